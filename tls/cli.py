"""``intygstjanst tls ...`` (development certificates) and ``intygstjanst authorization ...``.

Sub-commands register ``command`` via ``set_defaults``, the convention of the main CLI, which calls
``args.command(args, settings)`` and uses the result as the exit status. The ``tls`` commands work on
files named on the command line and ignore the settings. The ``authorization`` commands use the
settings (``data_dir``, ``authorization_file``) to find the running server and its file.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from intygstjanst.settings import Settings, add_flags, command_group
from intygstjanst.tls.authorization import AuthorizationTable
from intygstjanst.tls.errors import AuthorizationFileError, PkiError, TlsConfigError
from intygstjanst.tls.pki import (
    CLIENT_DIR,
    CRL_FILE,
    DEFAULT_CRL_DAYS,
    DEFAULT_HOSTS,
    DEFAULT_LEAF_DAYS,
    DevCa,
    IssuedCert,
    create_dev_pki,
)
from intygstjanst.tls.runtime import ServerState


def _ip_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an IP address: {value!r}") from None


def _days(value: str) -> int:
    try:
        days = int(value)
    except ValueError:
        days = 0
    if days < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of days, at least 1: {value!r}")
    return days


def _print_paths(labelled: list[tuple[str, Path]]) -> None:
    for label, path in labelled:
        print(f"{label}: {path}")


def _client_lines(clients: dict[str, IssuedCert]) -> list[tuple[str, Path]]:
    lines: list[tuple[str, Path]] = []
    for hsa_id, issued in clients.items():
        lines += [(f"client {hsa_id} certificate", issued.cert), (f"client {hsa_id} key", issued.key)]
    return lines


def _init(args: argparse.Namespace, _settings: Settings) -> int:
    hosts = [*args.hosts, *args.ips] or list(DEFAULT_HOSTS)
    pki = create_dev_pki(args.out, hosts, args.clients, days=args.days, force=args.force)
    if args.json:
        print(json.dumps(pki.to_json(), indent=2))
    else:
        _print_paths(
            [
                ("CA certificate", pki.ca),
                ("CA key", pki.ca_key),
                ("server certificate", pki.server.cert),
                ("server key", pki.server.key),
                *_client_lines(pki.clients),
            ]
        )
    return 0


def _client(args: argparse.Namespace, _settings: Settings) -> int:
    ca = DevCa.load(args.ca_dir or args.out)
    out = Path(args.out).resolve() / CLIENT_DIR
    clients = {hsa_id: ca.issue_client_cert(hsa_id, out, days=args.days) for hsa_id in args.hsa_id}
    if args.json:
        print(json.dumps({"ca": str(ca.cert_path.resolve()), "clients": {k: v.to_json() for k, v in clients.items()}}, indent=2))
    else:
        _print_paths(_client_lines(clients))
    return 0


def _revoke(args: argparse.Namespace, _settings: Settings) -> int:
    ca = DevCa.load(args.ca_dir or args.out)
    print(ca.write_crl(args.cert, Path(args.out).resolve() / CRL_FILE, days=args.days))
    return 0


def _served_namespaces() -> set[str]:
    from intygstjanst.contracts.registry import ContractRegistry

    return {contract.namespace for contract in ContractRegistry.load()}


def _authorization_check(args: argparse.Namespace, settings: Settings) -> int:
    path = args.file or settings.authorization_file
    if path is None:
        raise AuthorizationFileError("name the file to check, or set authorization_file (INTYG_AUTHORIZATION_FILE)")
    table = AuthorizationTable.load(path, _served_namespaces())
    for grant in table.grants():
        print(grant.describe())
    print(f"{path}: {len(table)} grant(s), valid")
    return 0


def _authorization_reload(args: argparse.Namespace, settings: Settings) -> int:
    state = ServerState.read(settings.data_dir)
    if state.authorization_file is None:
        raise LookupError(f"the server (pid {state.pid}) runs in tls mode {state.mode} without an authorization file")
    # Check first: the server would refuse a broken file too, but only its log would say why.
    table = AuthorizationTable.load(state.authorization_file, _served_namespaces())
    os.kill(state.pid, signal.SIGHUP)
    print(f"asked the server (pid {state.pid}) to reload {state.authorization_file}: {len(table)} grant(s)")
    return 0


Handler = Callable[[argparse.Namespace, Settings], int]


def _reporting_errors(handler: Handler, command: str) -> Callable[[argparse.Namespace, Settings], int]:
    """Expected failures become one line on stderr and exit status 1, not a traceback."""

    def run(args: argparse.Namespace, settings: Settings) -> int:
        try:
            return handler(args, settings)
        except (PkiError, TlsConfigError, AuthorizationFileError, LookupError, PermissionError) as exc:
            print(f"intygstjanst {command}: error: {exc}", file=sys.stderr)
            return 1

    return run


def add_commands(subparsers: Any) -> None:
    """Add the ``tls`` and ``authorization`` command groups to the main CLI's sub-parsers."""
    commands = command_group(subparsers, "tls", "development PKI: CA, server and client certificates, CRL")

    init = commands.add_parser(
        "init",
        help="create a development CA, a server certificate and client certificates",
        description="Create ca.pem/ca.key, server.pem/server.key and clients/<HSA-id>.pem/.key in --out. "
        f"Without --host/--ip the server certificate covers {', '.join(DEFAULT_HOSTS)}.",
    )
    init.add_argument("--out", type=Path, required=True, metavar="DIR", help="directory to write to")
    init.add_argument("--host", dest="hosts", action="append", default=[], metavar="NAME", help="DNS name for the server (repeatable)")
    init.add_argument("--ip", dest="ips", action="append", default=[], type=_ip_address, metavar="ADDR", help="IP address for the server (repeatable)")
    init.add_argument("--client", dest="clients", action="append", default=[], metavar="HSA_ID", help="issue a client certificate for this HSA-id (repeatable)")
    init.add_argument("--days", type=_days, default=DEFAULT_LEAF_DAYS, help=f"validity of server and client certificates (default {DEFAULT_LEAF_DAYS})")
    init.add_argument("--force", action="store_true", help="replace an existing CA in --out")
    init.add_argument("--json", action="store_true", help="print the written paths as JSON")
    init.set_defaults(command=_reporting_errors(_init, "tls init"))

    client = commands.add_parser(
        "client",
        help="issue client certificates signed by an existing development CA",
        description="Write clients/<HSA-id>.pem/.key under --out, signed by the CA in --ca-dir (default --out).",
    )
    client.add_argument("--hsa-id", action="append", required=True, metavar="ID", help="HSA-id for the certificate subject serialNumber (repeatable)")
    client.add_argument("--out", type=Path, required=True, metavar="DIR")
    client.add_argument("--ca-dir", type=Path, metavar="DIR", help="directory holding ca.pem and ca.key (default --out)")
    client.add_argument("--days", type=_days, default=DEFAULT_LEAF_DAYS)
    client.add_argument("--json", action="store_true", help="print the written paths as JSON")
    client.set_defaults(command=_reporting_errors(_client, "tls client"))

    revoke = commands.add_parser(
        "revoke",
        help="write crl.pem revoking client certificates",
        description="Write --out/crl.pem signed by the CA in --ca-dir (default --out). Entries of an existing "
        "crl.pem from the same CA are kept; without --cert the CRL is only renewed.",
    )
    revoke.add_argument("--out", type=Path, required=True, metavar="DIR")
    revoke.add_argument("--cert", action="append", default=[], type=Path, metavar="FILE", help="certificate to revoke (repeatable)")
    revoke.add_argument("--ca-dir", type=Path, metavar="DIR", help="directory holding ca.pem and ca.key (default --out)")
    revoke.add_argument("--days", type=_days, default=DEFAULT_CRL_DAYS, help=f"until nextUpdate (default {DEFAULT_CRL_DAYS})")
    revoke.set_defaults(command=_reporting_errors(_revoke, "tls revoke"))

    commands = command_group(subparsers, "authorization", "call authorization grants: check a file, make the running server reload its file")
    check = commands.add_parser(
        "check",
        help="check an authorization file and list its grants",
        description="Exit status 0 when the file would be accepted by 'serve' and by a reload.",
    )
    check.add_argument("file", nargs="?", type=Path, metavar="FILE", help="default: the authorization_file setting")
    add_flags(check, "authorization_file")
    check.set_defaults(command=_reporting_errors(_authorization_check, "authorization check"))
    reload = commands.add_parser(
        "reload",
        help="make the running server re-read its authorization file (after checking it)",
        description="Finds the server through <data-dir>/serve.json (believed only while that process holds "
        "<data-dir>/serve.lock), checks the file it uses and sends it SIGHUP; "
        "every worker process then replaces its table. A file that does not check is not sent.",
    )
    add_flags(reload, "data_dir")
    reload.set_defaults(command=_reporting_errors(_authorization_reload, "authorization reload"))
