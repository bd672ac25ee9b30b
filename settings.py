"""Configuration: command-line flags, then ``INTYG_*`` environment variables, then a TOML file.

Every setting is one dataclass field; its flag is ``--<name>`` (on every command whose layer uses its
group, see :func:`add_flags`), its environment variable ``INTYG_<NAME>`` and its TOML key ``<name>``.
Keeping the three sources behind one table means a new setting is one line here.

May import: nothing else in the package.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_type_hints


class SettingsError(ValueError):
    """A configuration value that cannot be used; the message names the source and the setting."""


# Groups of settings; a command names the groups (or single settings) it uses and gets their flags.
STORAGE = "storage"
SERVER = "server"
LIMITS = "limits"
REGISTERS = "registers"
CERTIFICATES = "certificates"
SECURITY = "security"
SIGNATURES = "signatures"
DELIVERY = "delivery"
ACCESS_LOG = "access-log"
STATISTICS = "statistics"
OTHER = "other"  # a setting declared without a group; every command that runs the service takes it
EVERY = "*"

GROUP_TITLES = {
    STORAGE: "data directory and database",
    SERVER: "listening and concurrency",
    LIMITS: "request limits",
    REGISTERS: "registers",
    CERTIFICATES: "certificate types and rules",
    SECURITY: "transport security and call authorization",
    SIGNATURES: "the doctor's signature on certificates",
    DELIVERY: "delivery to recipients",
    ACCESS_LOG: "the access log (who was disclosed a patient's data)",
    STATISTICS: "statistics",
    OTHER: "other settings",
}


@dataclass(frozen=True)
class About:
    """What the command line shows for a setting: its help, group, and an optional flag name or choices."""

    help: str
    group: str = OTHER
    flag: str = ""  # default: --<name with dashes>
    choices: tuple[str, ...] = ()
    metavar: str = ""


def setting(default: Any, help: str, group: str = OTHER, **about: Any) -> Any:
    """A settings field with its command-line description."""
    return dataclasses.field(default=default, metadata={"about": About(help, group, **about)})


@dataclass(frozen=True)
class Settings:
    data_dir: Path = setting(Path("var"), "directory for the embedded database and development PKI (default ./var)", STORAGE, metavar="DIR")
    database_url: str = setting("", "SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db (default: SQLite in the data directory)", STORAGE, metavar="URL")
    # The access log (persistence/access_log.py) finds a patient's entries by the keyed hash of the
    # personnummer: the key must stay the same for as long as entries are kept.
    access_log_key_file: Path | None = setting(
        None, "key of the patient's hash in the access log (default: access-log.key in the data directory, made when missing)",
        ACCESS_LOG, metavar="FILE",
    )
    access_log_retention_years: int = setting(10, "years an access-log entry is kept before the worker or 'access-log prune' removes it (default 10; 0: kept for ever)", ACCESS_LOG, metavar="YEARS")
    host: str = setting("127.0.0.1", "address to listen on (default 127.0.0.1)", SERVER)
    port: int = setting(8080, "port to listen on (default 8080)", SERVER)
    export_dir: Path | None = setting(None, "where the operator API writes care-giver exports (default: exports in the data directory)", SERVER, metavar="DIR")
    workers: int = setting(1, "server processes (default 1)", SERVER, metavar="N")
    # N > 0: a pool of N threads. A durable commit waits for the disk (an fsync: milliseconds, more
    # than a registration's CPU), which on the event loop would hold up every other call of the
    # process; on threads the others go on meanwhile, and the writes that come during one sync share
    # the next (group commit). 0: handlers run on the event loop, one at a time per worker process.
    # Contracts that wait on a recipient always use threads.
    handler_threads: int = setting(8, "N (default 8): a pool of N threads for the handlers; 0: they run on the event loop", SERVER, metavar="N")
    # HTTP limits (tls/http_limits.py): a connection can hold neither memory nor itself open for long
    # without sending a request; each breach is answered 431, 408 or 503 and the connection closed.
    max_connections: int = setting(1000, "open connections per server process; a new one beyond it gets 503 (default 1000)", SERVER, metavar="N")
    header_timeout: float = setting(10.0, "seconds for a request's line and headers to arrive (default 10)", SERVER, metavar="SECONDS")
    body_timeout: float = setting(60.0, "seconds for a request's body to arrive after its headers (default 60)", SERVER, metavar="SECONDS")
    max_header_bytes: int = setting(64 * 1024, "largest request line + headers; beyond it 431 (default 65536)", SERVER, metavar="BYTES")
    max_header_count: int = setting(100, "most request headers; beyond it 431 (default 100)", SERVER, metavar="N")
    keep_alive_timeout: float = setting(5.0, "seconds an idle keep-alive connection stays open (default 5)", SERVER, metavar="SECONDS")
    # Requests at least this large run on a pool of their own whatever handler_threads says: their
    # parse, schema and rules may take seconds, during which the event loop must keep serving.
    large_request_bytes: int = setting(
        64 * 1024, "requests of at least this many bytes run on the large-request pool (default 65536)", SERVER, metavar="BYTES"
    )
    large_request_threads: int = setting(2, "threads of the large-request pool where it has no processes (default 2)", SERVER, metavar="N")
    # Processes, not threads: a large request's Python work (schema errors, rules, facts) would hold
    # the interpreter lock the event loop needs. 0: the threads above.
    large_request_processes: int = setting(2, "worker processes of the large-request pool, per server process; 0: threads (default 2)", SERVER, metavar="N")
    # A large request over this much CPU is answered as a server error and its worker killed and
    # replaced; every legitimate certificate needs a small fraction of it.
    request_cpu_seconds: float = setting(10.0, "CPU seconds a large request may use before it is abandoned (default 10)", SERVER, metavar="SECONDS")
    # The workers' CPU-heavy work yields the cores to the server process (the event loop with every
    # ordinary call) on a machine with few of them; added to the server's own nice value.
    large_request_nice: int = setting(10, "nice value the large-request workers add to the server's, 0 to 19 (default 10)", SERVER, metavar="N")

    # The sick-leave lists keep the stored cases' answers they read (persistence/case_cache.py): a
    # unit's coordinators list the same few thousand cases all day, which then need not travel from
    # the database again until they change. Per server process.
    sick_leave_cache_mb: int = setting(
        256, "MB of stored sick-leave cases' answers a server process keeps between list calls; 0: none (default 256)", SERVER, metavar="MB"
    )

    # Hardened-parser limits: every breach is answered with a SOAP Fault.
    # An answer listing violations (rules, Schematron, the legacy checks) names at most this many and
    # says how many more there were, so a request with 60,000 bad answers gets a bounded answer.
    max_listed_violations: int = setting(100, "most violations listed in one answer (default 100)", LIMITS, metavar="N")
    max_body_bytes: int = setting(10 * 1024 * 1024, "largest request body (default 10 MB)", LIMITS, metavar="BYTES")
    max_depth: int = setting(100, "deepest element nesting (default 100)", LIMITS, metavar="N")
    max_elements: int = setting(200_000, "most elements in a request (default 200000)", LIMITS, metavar="N")
    # Counted while parsing: schema validation and the rules cost grows with these, not only with size.
    max_namespace_declarations: int = setting(1_000, "most namespace declarations in a request (default 1000)", LIMITS, metavar="N")
    max_attributes: int = setting(200_000, "most attributes in a request (default 200000)", LIMITS, metavar="N")
    max_attributes_per_element: int = setting(50, "most attributes on one element (default 50)", LIMITS, metavar="N")
    max_name_length: int = setting(1_000, "longest element or attribute name, in characters (default 1000)", LIMITS, metavar="N")
    max_attribute_length: int = setting(10_000, "longest attribute value or namespace name, in characters (default 10000)", LIMITS, metavar="N")

    # Person register (PU) stand-in: a TOML/CSV file of persons and a list of validation persons.
    persons_file: Path | None = setting(None, "persons (TOML or CSV) standing in for the person register", REGISTERS, metavar="FILE")
    validation_persons_file: Path | None = setting(None, "list of validation personnummer", REGISTERS, metavar="FILE")
    recipients_file: Path | None = setting(None, "recipient registry (default: the built-in one)", REGISTERS, metavar="FILE")
    care_units_file: Path | None = setting(None, "care givers, care units and sub-units (sick leave)", REGISTERS, metavar="FILE")
    # Error texts name a patient only by this salted hash, as the national service does.
    pseudonym_salt: str = setting("", "salt of the patient pseudonym in error texts (SHA-256 of salt + personnummer)", REGISTERS, metavar="TEXT")
    # The built-in statistics know patients and certificates only by HMACs with this key; every
    # process feeding one store must share it (statistics/store.py).
    statistics_key_file: Path | None = setting(
        None, "key of the statistics' patient and certificate hashes (default: statistics.key in the data directory, made when missing)",
        REGISTERS, metavar="FILE",
    )

    # Extra certificate-type definition directories added to the built-in ones.
    certificate_types_dir: Path | None = setting(None, "extra or replacing certificate-type definitions", CERTIFICATES, metavar="DIR")
    # Official Schematron files that, when set, are run in addition to the project's own rules.
    schematron_dir: Path | None = setting(None, "the certificate owners' Schematron files, run in addition to the project's rules", CERTIFICATES, metavar="DIR")

    # Mutual TLS (see tls/). No certificate flags and tls_mode "auto" means the dev CA is used.
    tls_mode: str = setting(
        "auto",
        "auto (default): native with --tls-* files, proxy with --trusted-proxy, else the development PKI; "
        "off: plain HTTP without caller identity (development and tests)",
        SECURITY,
        choices=("auto", "off", "native", "proxy"),
    )
    tls_cert: Path | None = setting(None, "server certificate (PEM, leaf first, then intermediates)", SECURITY, metavar="FILE")
    tls_key: Path | None = setting(None, "server private key (PEM, unencrypted)", SECURITY, metavar="FILE")
    tls_ca: Path | None = setting(None, "CA certificates whose client certificates are accepted", SECURITY, metavar="FILE")
    tls_crl: Path | None = setting(None, "CRL file; revoked client certificates are refused", SECURITY, metavar="FILE")
    trusted_proxies: tuple[str, ...] = setting(
        (), "address or network of a TLS-terminating proxy whose forwarded client certificate is believed (repeatable)",
        SECURITY, flag="--trusted-proxy", metavar="ADDR",
    )
    proxy_cert_header: str = setting("x-ssl-client-cert", "header carrying the proxy's forwarded client certificate", SECURITY, metavar="NAME")
    authorization_file: Path | None = setting(None, "call authorization grants (TOML)", SECURITY, metavar="FILE")
    platform_consumers: tuple[str, ...] = setting(
        (), "consumer allowed to pass x-rivta-original-serviceconsumer-hsaid (repeatable)", SECURITY,
        flag="--platform-consumer", metavar="HSA_ID",
    )

    # The doctor's signature (underskrift) on RegisterCertificate (certificates/signature.py).
    signature_mode: str = setting(
        "report",
        "report (default): verify, store the result, accept; enforce: refuse a bad signature (and an unsigned "
        "certificate of a --signature-required-type); off: do not verify",
        SIGNATURES,
        choices=("off", "report", "enforce"),
    )
    signature_trust_bundle: Path | None = setting(None, "CA certificates (PEM) that issue trusted signing certificates", SIGNATURES, metavar="FILE")
    signature_crl: Path | None = setting(None, "CRLs (PEM or DER) of those CAs; a signer revoked before signing is refused", SIGNATURES, metavar="FILE")
    signature_required_types: tuple[str, ...] = setting(
        (), "certificate type that must be signed in enforce mode, '*' for every type (repeatable)",
        SIGNATURES, flag="--signature-required-type", metavar="TYPE",
    )

    # Delivery to recipients (delivery/). Outbound mTLS: our client certificate and key, and the CAs
    # we trust for the recipients' servers; all three or none (plain HTTP / system CAs).
    outbound_tls_cert: Path | None = setting(None, "our client certificate for calling recipients", DELIVERY, metavar="FILE")
    outbound_tls_key: Path | None = setting(None, "its private key", DELIVERY, metavar="FILE")
    outbound_tls_ca: Path | None = setting(None, "CAs trusted for the recipients' servers", DELIVERY, metavar="FILE")
    # Where recipients without a url of their own are called: the national platform, which routes
    # on the logical address.
    delivery_base_url: str = setting("", "where recipients without a URL of their own are called (the national platform)", DELIVERY, metavar="URL")
    delivery_timeout: float = setting(30.0, "seconds per call to a recipient (default 30)", DELIVERY, metavar="SECONDS")
    # Retries after technical failures: about base * 2^(attempt-1) seconds, jittered, at most max.
    retry_base_delay: float = setting(10.0, "first retry after about this many seconds (default 10)", DELIVERY, metavar="SECONDS")
    retry_max_delay: float = setting(900.0, "longest wait between retries (default 900)", DELIVERY, metavar="SECONDS")
    # How long a worker owns a claimed outbox row; 0 derives it from delivery_timeout.
    outbox_lease: float = setting(0.0, "how long a worker owns a claimed item (default: derived from the timeout)", DELIVERY, metavar="SECONDS")
    # Test and validation certificates are not kept (README: Data lifecycle): the worker removes them.
    test_certificate_max_age_days: int = setting(
        14, "the worker purges test and validation certificates this many days after they arrived (default 14; 0: never)", DELIVERY, metavar="DAYS"
    )

    # The statistics feed (statistics/feed.py): off by default, so that a service without a broker
    # queues nothing it cannot deliver; when on, every event is queued in the outbox even while the
    # broker is away, and the worker publishes it once the broker answers.
    statistics_feed: bool = setting(False, "queue a statistics event per certificate and message for the AMQP broker (default off)", STATISTICS)
    statistics_amqp_url: str = setting(
        "amqp://guest:guest@127.0.0.1:5672/%2F", "the AMQP 0-9-1 broker of the statistics feed (default: user guest at 127.0.0.1:5672, virtual host /)",
        STATISTICS, metavar="URL",
    )
    statistics_exchange: str = setting("", "exchange the events are published to (default: the default exchange)", STATISTICS, metavar="NAME")
    statistics_queue: str = setting("certificate.queue", "queue (and routing key) of the events (default certificate.queue)", STATISTICS, metavar="NAME")

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'intygstjanst.db').resolve()}"

    @property
    def database_setting(self) -> str:
        """The setting that chose the database, for messages about it."""
        return "database_url" if self.database_url else "data_dir (SQLite default)"

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


def command_group(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str, help: str
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """Add the command group ``intygstjanst <name> COMMAND`` and return the sub-parsers its commands
    are added to; a COMMAND is required (the group alone prints its usage, exit status 2)."""
    group = subparsers.add_parser(name, help=help)
    return group.add_subparsers(dest=f"{name.replace('-', '_')}_command", metavar="COMMAND", required=True)


_FLAG_DEST = "setting:"  # argparse destinations of setting flags; never clash with a command's own options


def add_flags(parser: argparse.ArgumentParser, *uses: str, leave_out: Collection[str] = ()) -> None:
    """Give ``parser`` a flag for every setting its command uses.

    ``uses`` names groups (``STORAGE``, ``DELIVERY``, ...) or single settings; ``EVERY`` stands for
    all of them, including settings added later without a group. ``leave_out`` takes the same names.
    The flags appear under one heading per group in the command's help.
    """
    types = _field_types()
    headings: dict[str, Any] = {}
    for field in dataclasses.fields(Settings):
        about = about_setting(field.name)
        if field.name in leave_out or about.group in leave_out:
            continue
        if not ({EVERY, field.name, about.group} & set(uses)):
            continue
        if about.group not in headings:
            headings[about.group] = parser.add_argument_group(GROUP_TITLES.get(about.group, about.group))
        options: dict[str, Any] = {"dest": _FLAG_DEST + field.name, "help": about.help}
        if types[field.name] is bool:
            options["action"] = argparse.BooleanOptionalAction
        else:
            options["metavar"] = about.metavar or field.name.upper()
            if types[field.name] == tuple[str, ...]:
                options["action"] = "append"
        if about.choices:
            options["choices"] = about.choices
        headings[about.group].add_argument(flag_of(field.name), **options)


def flag_of(name: str) -> str:
    """The command-line flag of a setting, e.g. ``--trusted-proxy`` for ``trusted_proxies``."""
    return about_setting(name).flag or "--" + name.replace("_", "-")


def flag_values(args: argparse.Namespace) -> dict[str, Any]:
    """The settings given as flags (by :func:`add_flags`), for :meth:`Settings.load`."""
    return {
        name[len(_FLAG_DEST) :]: value
        for name, value in vars(args).items()
        if name.startswith(_FLAG_DEST) and value is not None
    }


def about_setting(name: str) -> About:
    """The command-line description of a setting; a setting declared without one still gets a flag."""
    field = {f.name: f for f in dataclasses.fields(Settings)}[name]
    about = field.metadata.get("about")
    return about if isinstance(about, About) else About("see the README section Configuration")


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
