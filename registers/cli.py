"""``intygstjanst recipients check``: the recipient registry as the service would load it."""

from __future__ import annotations

import argparse
from pathlib import Path

from intygstjanst.registers.recipients import Recipients, RecipientsError
from intygstjanst.settings import Settings, add_flags, command_group


def _check(args: argparse.Namespace, settings: Settings) -> int:
    from intygstjanst.certificates.certtypes import CertificateTypes

    path = args.file or settings.recipients_file
    types = CertificateTypes.configured(settings)
    try:
        loaded = Recipients.load(path, types)
    except RecipientsError as exc:
        print(f"invalid: {exc}")
        return 1
    print(f"{loaded.path}: {len(loaded.all())} recipients, {len(loaded.parts())} parts")
    for r in loaded.all():
        endpoint = r.url or settings.delivery_base_url or "NO ENDPOINT (set url or delivery_base_url)"
        formats = ", ".join(f"{code}={fmt.value}" for code, fmt in sorted(r.formats.items())) or "all RegisterCertificate:3"
        state = "active" if r.active else "inactive"
        trust = "trusted" if r.trusted else "not trusted"
        print(f"  {r.id:<8} {r.kind.value:<16} {state:<9} {trust:<12} {r.logical_address:<12} {endpoint}")
        print(f"           types: {', '.join(sorted(r.certificate_types)) or '-'}; formats: {formats}")
    for p in loaded.parts():
        print(f"  {p.id:<8} part (never a send target): {p.name}")
    return 0


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub = command_group(subparsers, "recipients", "the recipient registry")
    check = sub.add_parser("check", help="check the registry file and show what it says")
    check.add_argument("--file", type=Path, help="registry file (default: recipients_file, else the built-in seed)")
    add_flags(check, "recipients_file", "certificate_types_dir", "delivery_base_url")
    check.set_defaults(command=_check)
