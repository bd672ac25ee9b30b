"""The ``intygstjanst`` command."""

# The top of the package (its docstring is the command's help): May import: ``app``, ``certificates``,
# ``conformance``, ``contracts``, ``delivery``, ``persistence``, ``registers``, ``services``,
# ``settings``, ``testing`` and ``tls``. Layers add their own sub-commands (``add_commands``).

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from intygstjanst.settings import Settings, SettingsError
from intygstjanst.certificates.cli import add_commands as add_types_commands
from intygstjanst.registers.recipients import add_commands as add_recipients_commands
from intygstjanst.testing.stub_recipient import add_commands as add_stub_commands
from intygstjanst.delivery.worker import add_commands as add_worker_commands
from intygstjanst.tls.cli import add_commands as add_tls_commands
from intygstjanst.conformance.cli import add_commands as add_conformance_commands

Command = Callable[[argparse.Namespace, Settings], int]

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        settings = Settings.load(_flag_overrides(args), config_file=getattr(args, "config", None))
    except SettingsError as exc:
        print(f"intygstjanst: configuration error: {exc}", file=sys.stderr)
        return 2
    command: Command = args.command
    try:
        return command(args, settings)
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="intygstjanst", description=__doc__)
    parser.add_argument("--config", type=Path, help="TOML configuration file (also INTYG_CONFIG)")
    sub = parser.add_subparsers(dest="command_name", required=True)

    serve = sub.add_parser("serve", help="run the service")
    _database_flags(serve)
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.add_argument("--workers", type=int, help="worker processes (default 1)")
    serve.add_argument("--data-dir", type=Path, help="directory for the embedded database and dev CA (default ./var)")
    _security_flags(serve)
    serve.set_defaults(command=_serve)

    validate = sub.add_parser("validate", help="check message files against their contract and certificate rules")
    validate.add_argument("files", nargs="+", type=Path)
    validate.add_argument("--json", action="store_true", help="one JSON object per line")
    validate.add_argument("--certificate-types-dir", type=Path, help="extra certificate-type definitions")
    validate.set_defaults(command=_validate)

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_sub.add_parser("upgrade", help="apply migrations up to the newest")
    _database_flags(upgrade)
    upgrade.set_defaults(command=_db_upgrade)
    add_worker_commands(sub)
    add_stub_commands(sub)
    add_recipients_commands(sub)
    add_types_commands(sub, _running_server)

    add_tls_commands(sub)
    add_conformance_commands(sub)
    return parser


def _database_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in the data directory)")


def _security_flags(serve: argparse.ArgumentParser) -> None:
    tls = serve.add_argument_group(
        "transport security",
        "Without any of these the service serves mutual TLS on a development PKI that it creates under "
        "<data-dir>/tls on first start, with a development authorization file granting its client certificates "
        "everything. See the README section on mutual TLS.",
    )
    tls.add_argument(
        "--tls-mode",
        choices=("auto", "off", "native", "proxy"),
        help="auto (default): native with --tls-* files, proxy with --trusted-proxy, else the development PKI; "
        "off: plain HTTP without caller identity (development and tests)",
    )
    tls.add_argument("--tls-cert", type=Path, metavar="FILE", help="server certificate (PEM, leaf first, then intermediates)")
    tls.add_argument("--tls-key", type=Path, metavar="FILE", help="server private key (PEM, unencrypted)")
    tls.add_argument("--tls-ca", type=Path, metavar="FILE", help="CA certificates whose client certificates are accepted")
    tls.add_argument("--tls-crl", type=Path, metavar="FILE", help="CRL file; revoked client certificates are refused")
    tls.add_argument(
        "--trusted-proxy",
        dest="trusted_proxies",
        action="append",
        metavar="ADDR",
        help="address or network of a TLS-terminating proxy whose forwarded client certificate is believed (repeatable)",
    )
    tls.add_argument("--authorization-file", type=Path, metavar="FILE", help="call authorization grants (TOML)")
    tls.add_argument(
        "--platform-consumer",
        dest="platform_consumers",
        action="append",
        metavar="HSA_ID",
        help="consumer allowed to pass x-rivta-original-serviceconsumer-hsaid (repeatable)",
    )


# Flags whose values are settings; other flags steer the command only.
_SETTING_FLAGS = (
    "host",
    "port",
    "workers",
    "data_dir",
    "database_url",
    "certificate_types_dir",
    "tls_mode",
    "tls_cert",
    "tls_key",
    "tls_ca",
    "tls_crl",
    "trusted_proxies",
    "authorization_file",
    "platform_consumers",
)


def _flag_overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(args, name) for name in _SETTING_FLAGS if getattr(args, name, None) is not None}


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from intygstjanst.app import reload_on_sighup, secured_app
    from intygstjanst.persistence.db import Database
    from intygstjanst.tls import runtime
    from intygstjanst.tls.errors import AuthorizationFileError, PkiError, TlsConfigError
    from intygstjanst.tls.security import prepare

    try:
        settings, dev_pki = prepare(settings)
        app, transport = secured_app(settings)
    except (SettingsError, TlsConfigError, AuthorizationFileError, PkiError) as exc:
        print(f"intygstjanst serve: error: {exc}", file=sys.stderr)
        return 2
    database = Database(settings.effective_database_url)
    database.upgrade()
    database.dispose()
    base = f"{transport.scheme}://{settings.host}:{settings.port}"
    print(f"intygstjanst serving on {base} (database {_safe_url(settings.effective_database_url)})")
    for contract in app.state.services.contracts:
        print(f"  {contract.name} {contract.version}: {base}{contract.path}  WSDL {base}{contract.path}?wsdl")
    for line in dev_pki.lines() if dev_pki else ():
        print(line)
    sys.stdout.flush()
    transport.log_startup()
    options = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "warning",
        "access_log": False,
        "log_config": _server_log_config(),
    }
    if settings.workers > 1:
        # Worker processes build their own app from the environment, so hand the settings over there;
        # each installs its own SIGHUP handler, and the supervisor forwards SIGHUP to them.
        os.environ.update(settings.as_environment())
        config = transport.uvicorn_config(
            "intygstjanst.app:app_from_environment", factory=True, workers=settings.workers, **options
        )
    else:
        reload_on_sighup(app, transport)
        config = transport.uvicorn_config(app, **options)
    with runtime.server_state(settings.data_dir, transport.mode, settings.authorization_file, settings.certificate_types_dir):
        started = runtime.run(config, forward_sighup=True)
    return 0 if started else 1


def _server_log_config() -> dict[str, Any]:
    """The logging of this process for every server process: uvicorn applies it in each worker, which
    otherwise starts with logging unconfigured and drops the audit lines (INFO)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"plain": {"format": LOG_FORMAT}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
        "root": {"level": "INFO", "handlers": ["stderr"]},
        "loggers": {"alembic": {"level": "WARNING"}},
    }


def _safe_url(url: str) -> str:
    """The URL without a password, for printing."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _running_server(data_dir: Path) -> tuple[int, Path | None]:
    """The server running on ``data_dir`` (pid, certificate_types_dir), for ``types reload``."""
    from intygstjanst.tls.runtime import ServerState

    state = ServerState.read(data_dir)
    return state.pid, state.certificate_types_dir


def _validate(args: argparse.Namespace, settings: Settings) -> int:
    from intygstjanst.certificates.certtypes import CertificateTypes
    from intygstjanst.certificates.validate import MessageValidator, print_verdicts

    types = CertificateTypes.configured(settings)
    return 0 if print_verdicts(MessageValidator.with_limits_of(settings, types), args.files, args.json) else 1


def _db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from intygstjanst.persistence.db import Database

    database = Database(settings.effective_database_url)
    database.upgrade()
    print(f"database {_safe_url(settings.effective_database_url)} is at the newest schema")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
