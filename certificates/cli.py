"""``intygstjanst validate`` (message files against their contract and certificate rules), the
``intygstjanst types`` commands: check certificate-type files (and run them on messages), and make
the running server use the files in its ``certificate_types_dir`` without a restart; and
``intygstjanst certificate show`` (a stored certificate's facts, states and signature result)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from intygstjanst.certificates import sickleave_upkeep
from intygstjanst.certificates.certtypes import BUILTIN_DIR, CertificateTypeError, CertificateTypes
from intygstjanst.settings import LIMITS, STORAGE, Settings, add_flags, command_group


def _validate(args: argparse.Namespace, settings: Settings) -> int:
    from intygstjanst.certificates.validate import MessageValidator, print_verdicts

    types = CertificateTypes.configured(settings)
    return 0 if print_verdicts(MessageValidator.with_limits_of(settings, types), args.files, args.json) else 1


def _check(args: argparse.Namespace, settings: Settings) -> int:
    from intygstjanst.certificates.validate import MessageValidator, print_verdicts

    directory: Path = args.directory
    try:
        types = CertificateTypes.load([directory])
    except CertificateTypeError as exc:
        print(f"intygstjanst types check: {directory} does not check:\n{exc}", file=sys.stderr)
        return 1
    builtin = {(t.code, t.version) for t in CertificateTypes.load().all()}
    own = [t for t in types.all() if t.source is not None and t.source.resolve().parent == directory.resolve()]
    for t in own:
        replaces = " (replaces the built-in definition)" if (t.code, t.version) in builtin else ""
        print(f"{t.code} v{t.version}: {t.source.name if t.source else ''}{replaces}")
    print(f"{directory}: {len(own)} type file(s), valid; {len(types.all())} types with the built-in ones")
    if not args.messages:
        return 0
    return 0 if print_verdicts(MessageValidator.with_limits_of(settings, types), args.messages, args.json) else 1


# The running server of a data directory: (process id, its certificate_types_dir); LookupError,
# saying why, when no server runs there. The top-level CLI passes it in (tls knows the server).
FindServer = Callable[[Path], tuple[int, Path | None]]


def _reload(args: argparse.Namespace, settings: Settings, find_server: FindServer) -> int:
    try:
        pid, types_dir = find_server(settings.data_dir)
    except LookupError as exc:
        print(f"intygstjanst types reload: error: {exc}", file=sys.stderr)
        return 1
    directories = [types_dir] if types_dir else []
    # Check first: the server refuses a broken set too, but only its log would say why.
    try:
        types = CertificateTypes.load(directories)
    except CertificateTypeError as exc:
        print(f"intygstjanst types reload: not sent, the files do not check:\n{exc}", file=sys.stderr)
        return 1
    os.kill(pid, signal.SIGHUP)
    where = types_dir or f"{BUILTIN_DIR} (the server has no certificate_types_dir)"
    print(f"asked the server (pid {pid}) to reload the certificate types from {where}: {len(types.all())} types")
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    from intygstjanst.persistence import certificates, signatures
    from intygstjanst.persistence.db import Database

    with Database.configured(settings) as database, database.read() as conn:
        row = certificates.get(conn, args.id)
        states = certificates.states(conn, args.id)
        signature = signatures.get(conn, args.id)
    if row is None:
        print(f"intygstjanst certificate show: no certificate {args.id}", file=sys.stderr)
        return 1
    facts: dict[str, object] = {
        "id": row.id,
        "type": f"{row.type_code} {row.type_version}",
        "source": row.source,
        "received_at": str(row.received_at),
        "signed_at": str(row.signed_at or ""),
        "signing_doctor": f"{row.signing_doctor_id} {row.signing_doctor_name}".strip(),
        "care_unit": f"{row.care_unit_id} {row.care_unit_name}".strip(),
        "care_giver": row.care_giver_id,
        "test_certificate": row.is_test,
        "states": [f"{s.state} {s.target} {s.at}" for s in states],
    }
    if signature is None:  # stored before signatures were checked
        facts["signature"] = {"status": "not_checked", "reason": "registered before signatures were recorded"}
    else:
        facts["signature"] = {**vars(signature.record), "checked_at": str(signature.checked_at)}
    if args.json:
        print(json.dumps(facts, ensure_ascii=False))
        return 0
    for name, value in facts.items():
        if isinstance(value, dict):
            for key, item in value.items():
                if item != "":
                    print(f"{name} {key}: {item}")
        elif isinstance(value, list):
            print(f"{name}:" + "".join(f"\n  {item}" for item in value))
        else:
            print(f"{name}: {value}")
    return 0


def add_commands(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
    find_server: FindServer,
    registers: sickleave_upkeep.Registers,
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """Add ``validate`` and the ``types``, ``certificate`` and ``sickleave`` command groups to the main
    CLI's sub-parsers; the ``certificate`` group's sub-parsers, which other layers add to."""
    sickleave_upkeep.add_commands(subparsers, registers)
    validate = subparsers.add_parser("validate", help="check message files against their contract and certificate rules")
    validate.add_argument("files", nargs="+", type=Path, metavar="FILE")
    validate.add_argument("--json", action="store_true", help="one JSON object per line")
    add_flags(validate, "certificate_types_dir", LIMITS)
    validate.set_defaults(command=_validate)

    commands = command_group(subparsers, "types", "certificate-type files: check them, make the running server reload them")
    check = commands.add_parser(
        "check",
        help="check a directory of type files and run them on messages",
        description="Reads DIR as the server reads its certificate_types_dir (on top of the built-in types; a file for "
        "the same code and version replaces the built-in one) and reports every broken file with the line at fault. "
        "Each MESSAGE (a RegisterCertificate or any other contract message, bare or in a SOAP envelope) is then "
        "checked against its schema and, for certificates, these types' rules. Exit status 0 when everything is valid.",
    )
    check.add_argument("directory", type=Path, metavar="DIR")
    check.add_argument("messages", nargs="*", type=Path, metavar="MESSAGE")
    check.add_argument("--json", action="store_true", help="one JSON object per message")
    add_flags(check, LIMITS)
    check.set_defaults(command=_check)
    reload = commands.add_parser(
        "reload",
        help="make the running server re-read its certificate types (after checking them)",
        description="Finds the server through <data-dir>/serve.json (believed only while that process holds "
        "<data-dir>/serve.lock), checks the type files it uses and sends it SIGHUP; "
        "every worker process then switches to the new set, or keeps its set and logs why. Files that do not check "
        "are not sent.",
    )
    add_flags(reload, "data_dir")
    reload.set_defaults(command=lambda args, settings: _reload(args, settings, find_server))

    certificate_commands = command_group(subparsers, "certificate", "stored certificates")
    show = certificate_commands.add_parser(
        "show",
        help="a stored certificate: its facts, states and signature result",
        description="Prints what is stored about certificate ID (not its content; the patient is left out): type, "
        "source contract, signing doctor and care unit, states, and the result of checking its signature "
        "(valid, invalid with the reason, unsigned or not_checked; the signer; when it was checked). Exit status 1 "
        "when there is no such certificate.",
    )
    show.add_argument("id", metavar="ID", help="the certificate id (intygs-id/extension)")
    show.add_argument("--json", action="store_true", help="one JSON object")
    add_flags(show, STORAGE)
    show.set_defaults(command=_show)
    return certificate_commands
