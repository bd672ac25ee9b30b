"""Configuration: command-line flags, then ``INTYG_*`` environment variables, then a TOML file.

Every setting is one dataclass field; its environment variable is ``INTYG_<NAME>`` and its TOML key
is ``<name>``. Keeping the three sources behind one table means a new setting is one line here.

May import: nothing else in the package.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_type_hints


class SettingsError(ValueError):
    """A configuration value that cannot be used; the message names the source and the setting."""


@dataclass(frozen=True)
class Settings:
    # Where the embedded defaults live: the SQLite file, the generated dev CA.
    data_dir: Path = Path("var")
    # SQLAlchemy URL; empty means SQLite in data_dir.
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    # 0: handlers run on the event loop, one at a time per worker process (the cheapest: a thread
    # hop and GIL contention cost more than a registration's own work; scale with workers).
    # N > 0: a pool of N threads, for a database or person register slow enough that one call
    # should not hold up the others. Contracts that wait on a recipient always use threads.
    handler_threads: int = 0

    # Hardened-parser limits: every breach is answered with a SOAP Fault.
    max_body_bytes: int = 10 * 1024 * 1024
    max_depth: int = 100
    max_elements: int = 200_000

    # Person register (PU) stand-in: a TOML/CSV file of persons and a list of validation persons.
    persons_file: Path | None = None
    validation_persons_file: Path | None = None

    # Extra certificate-type definition directories added to the built-in ones.
    certificate_types_dir: Path | None = None
    # Official Schematron files that, when set, are run in addition to the project's own rules.
    schematron_dir: Path | None = None

    # Mutual TLS (see tls/). No certificate flags and tls_mode "auto" means the dev CA is used.
    tls_mode: str = "auto"  # auto | off | native | proxy
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    tls_crl: Path | None = None
    trusted_proxies: tuple[str, ...] = ()
    proxy_cert_header: str = "x-ssl-client-cert"
    authorization_file: Path | None = None
    platform_consumers: tuple[str, ...] = ()

    recipients_file: Path | None = None

    # Delivery to recipients (delivery.py, worker.py). Outbound mTLS: our client certificate and key,
    # and the CAs we trust for the recipients' servers; all three or none (plain HTTP / system CAs).
    outbound_tls_cert: Path | None = None
    outbound_tls_key: Path | None = None
    outbound_tls_ca: Path | None = None
    # Where recipients without a url of their own are called: the national platform, which routes
    # on the logical address.
    delivery_base_url: str = ""
    delivery_timeout: float = 30.0  # seconds per call (connecting: at most 5)
    # Retries after technical failures: about base * 2^(attempt-1) seconds, jittered, at most max.
    retry_base_delay: float = 10.0
    retry_max_delay: float = 900.0
    # How long a worker owns a claimed outbox row; 0 derives it from delivery_timeout.
    outbox_lease: float = 0.0

    care_units_file: Path | None = None

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'intygstjanst.db').resolve()}"

    @classmethod
    def load(
        cls,
        overrides: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        config_file: Path | None = None,
    ) -> Settings:
        """Merge the sources; ``overrides`` (flags) win over ``env`` which wins over the file."""
        env = os.environ if env is None else env
        config_file = config_file or (Path(env["INTYG_CONFIG"]) if env.get("INTYG_CONFIG") else None)
        values: dict[str, Any] = {}
        if config_file is not None:
            try:
                file_values = tomllib.loads(config_file.read_text(encoding="utf-8"))
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise SettingsError(f"config file {config_file}: {exc}") from exc
            values.update(_coerce_all(file_values, f"config file {config_file}"))
        env_values = {
            name: env[f"INTYG_{name.upper()}"]
            for name in _field_types()
            if f"INTYG_{name.upper()}" in env
        }
        values.update(_coerce_all(env_values, "environment"))
        values.update(_coerce_all({k: v for k, v in (overrides or {}).items() if v is not None}, "flag"))
        return cls(**values)

    def as_environment(self) -> dict[str, str]:
        """These settings as INTYG_* variables (for child processes), defaults left out."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value == f.default or value is None:
                continue
            text = ",".join(value) if isinstance(value, tuple) else str(value)
            out[f"INTYG_{f.name.upper()}"] = text
        return out

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _field_types() -> dict[str, Any]:
    hints = get_type_hints(Settings)
    return {f.name: hints[f.name] for f in dataclasses.fields(Settings)}


def _coerce_all(raw: Mapping[str, Any], source: str) -> dict[str, Any]:
    types = _field_types()
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in types:
            raise SettingsError(f"{source}: unknown setting {name!r}")
        out[name] = _coerce(value, types[name], f"{source}: {name}")
    return out


def _coerce(value: Any, typ: Any, where: str) -> Any:
    text = str(value) if not isinstance(value, (list, tuple)) else None
    if typ is int:
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{where} must be an integer, got {value!r}") from None
    if typ is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{where} must be a number, got {value!r}") from None
    if typ is bool:
        if isinstance(value, bool):
            return value
        if text is not None and text.lower() in ("1", "true", "yes", "on"):
            return True
        if text is not None and text.lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{where} must be true or false, got {value!r}")
    if typ is Path:
        return Path(str(value))
    if typ == Path | None:
        return Path(str(value)) if str(value) else None
    if typ == tuple[str, ...]:
        if isinstance(value, (list, tuple)):
            return tuple(str(v) for v in value)
        return tuple(part.strip() for part in str(value).split(",") if part.strip())
    return text
