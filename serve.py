"""``intygstjanst serve``: the service on one port, until SIGINT/SIGTERM.

Start-up order is what an operator can rely on: every file and the database are checked first
(a bad one stops the start with one line naming the setting); then the port is bound and the data
directory claimed (either one failing leaves a running server's ``serve.json`` alone); only then is
"serving on" printed.

May import: ``app``, ``contracts`` (the log format), ``delivery``, ``persistence``, ``services``, ``settings`` and ``tls``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

from intygstjanst.contracts.logs import log_config
from intygstjanst.settings import EVERY, Settings, SettingsError, add_flags

if TYPE_CHECKING:
    from intygstjanst.services import Services

def _serve(_args: argparse.Namespace, settings: Settings) -> int:
    from intygstjanst.app import freeze_start_up, reload_on_sighup, secured_app
    from intygstjanst.delivery.deliverer import warn_about_unreachable
    from intygstjanst.persistence.db import Database, safe_url
    from intygstjanst.tls import runtime
    from intygstjanst.tls.errors import AuthorizationFileError, PkiError, TlsConfigError
    from intygstjanst.tls.http_limits import HttpLimits
    from intygstjanst.tls.security import prepare

    try:
        settings, dev_pki = prepare(settings)
        with Database.configured(settings, newest_schema=False) as database:
            database.upgrade()
        app, transport = secured_app(settings)
    except (TlsConfigError, AuthorizationFileError, PkiError) as exc:
        raise SettingsError(str(exc)) from None
    try:
        sock = runtime.listen(settings.host, settings.port)
    except runtime.ServerStartError as exc:
        print(f"intygstjanst serve: error: {exc}", file=sys.stderr)
        return 1
    limits = HttpLimits.from_settings(settings)
    options: dict[str, Any] = {"log_level": "warning", "access_log": False, "log_config": log_config()}
    if settings.workers > 1:
        # Worker processes build their own app from the environment, so hand the settings over there;
        # each installs its own SIGHUP handler, and the supervisor forwards SIGHUP to them.
        os.environ.update(settings.as_environment())
        # uvicorn kills a worker that has not answered its health ping within this time, counting from
        # its spawn; on a busy machine a worker's start-up alone can take longer than uvicorn's 5 s, and
        # it would then be killed and respawned forever without ever serving.
        options["timeout_worker_healthcheck"] = 60
        config = transport.uvicorn_config(
            "intygstjanst.app:app_from_environment", limits, factory=True, workers=settings.workers, **options
        )
    else:
        reload_on_sighup(app, transport)
        config = transport.uvicorn_config(app, limits, **options)
        freeze_start_up()
    with sock:
        try:
            with runtime.server_state(settings.data_dir, transport.mode, settings.authorization_file, settings.certificate_types_dir):
                base = f"{transport.scheme}://{settings.host}:{settings.port}"
                print(f"intygstjanst serving on {base} (database {safe_url(settings.effective_database_url)})")
                for contract in app.state.services.contracts:
                    print(f"  {contract.name} {contract.version}: {base}{contract.path}  WSDL {base}{contract.path}?wsdl")
                for line in dev_pki.lines() if dev_pki else ():
                    print(line)
                sys.stdout.flush()
                transport.log_startup()
                services: Services = app.state.services
                warn_about_unreachable(services.recipients, services.transport.base_url)
                started = runtime.run(config, sock, forward_sighup=True)
        except runtime.ServerStartError as exc:
            print(f"intygstjanst serve: error: {exc}", file=sys.stderr)
            return 1
    return 0 if started else 1


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the service",
        description="Serve every contract on one port. Without any transport security flag the service "
        "serves mutual TLS on a development PKI that it creates under <data-dir>/tls on first start, with a "
        "development authorization file granting its client certificates everything (README: Mutual TLS).",
    )
    add_flags(serve, EVERY)
    serve.set_defaults(command=_serve)
