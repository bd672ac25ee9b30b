"""The ``intygstjanst`` command: its sub-commands are defined next to the layer each one serves."""

# The top of the package: May import: ``serve``, ``certificates``, ``conformance``, ``contracts``, ``delivery``,
# ``lifecycle``, ``persistence``, ``registers``, ``settings``, ``statistics``, ``testing`` and ``tls``. It only assembles the
# sub-commands each of them adds (``add_commands``).

from __future__ import annotations

import argparse
import logging.config
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from intygstjanst import serve
from intygstjanst.certificates import cli as certificates_cli
from intygstjanst.conformance import cli as conformance_cli
from intygstjanst.contracts.logs import log_config
from intygstjanst.delivery import cli as delivery_cli
from intygstjanst.lifecycle import cli as lifecycle_cli
from intygstjanst.persistence import cli as persistence_cli
from intygstjanst.registers import cli as registers_cli
from intygstjanst.settings import Settings, SettingsError, flag_values
from intygstjanst.statistics import cli as statistics_cli
from intygstjanst.testing import cli as testing_cli
from intygstjanst.tls import cli as tls_cli

Command = Callable[[argparse.Namespace, Settings], int]

DESCRIPTION = (
    "The national hub for digital medical certificates: RIV-TA SOAP contracts over mutual TLS. "
    "Every setting is a flag of the commands that use it, an INTYG_<NAME> environment variable, or a key "
    "in the --config file (README: Configuration). 'intygstjanst COMMAND --help' shows a command's flags."
)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.config.dictConfig(log_config())
    command: Command = args.command
    try:
        settings = Settings.load(flag_values(args), config_file=getattr(args, "config", None))
        return command(args, settings)
    except SettingsError as exc:
        # Configuration, files and the database it names: one line naming the setting, no traceback.
        print(f"{args.command_prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="intygstjanst", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command_name", metavar="COMMAND", required=True)
    serve.add_commands(sub)
    testing_cli.add_commands(sub)
    persistence_cli.add_commands(sub)
    certificate_commands = certificates_cli.add_commands(sub, _running_server, _sick_leave_registers)
    lifecycle_cli.add_commands(sub, certificate_commands)
    delivery_cli.add_commands(sub)
    registers_cli.add_commands(sub)
    statistics_cli.add_commands(sub)
    tls_cli.add_commands(sub)
    conformance_cli.add_commands(sub)
    _everywhere(parser)
    return parser


def _running_server(data_dir: Path) -> tuple[int, Path | None]:
    """The server running on ``data_dir`` (pid, certificate_types_dir), for ``types reload``."""
    from intygstjanst.tls.runtime import ServerState

    state = ServerState.read(data_dir)
    return state.pid, state.certificate_types_dir


def _sick_leave_registers(settings: Settings) -> tuple[Callable[[str], Sequence[str]], Callable[[Iterable[str]], set[str]]]:
    """For ``sickleave list``: a unit's scope from the care-unit register, and who is protected."""
    from intygstjanst.certificates.sickleave_view import RegisterUnavailable
    from intygstjanst.registers.care_units import CareUnits, CareUnitsError
    from intygstjanst.registers.persons import FilePersonLookup, PersonLookupError

    try:
        units = CareUnits.load(settings.care_units_file)
    except CareUnitsError as exc:
        raise SettingsError(f"care_units_file: {exc}") from exc
    persons = FilePersonLookup.from_files(settings.persons_file, settings.validation_persons_file)

    def protected_among(patients: Iterable[str]) -> set[str]:
        try:
            return persons.protected_among(patients)
        except PersonLookupError as exc:
            raise RegisterUnavailable(str(exc)) from exc

    return units.scope, protected_among


def _everywhere(parser: argparse.ArgumentParser) -> None:
    """``--config`` before or after the sub-command, and each command's name for its messages."""
    # SUPPRESS: a sub-command's parser must not overwrite a --config given before it with None.
    parser.add_argument("--config", type=Path, default=argparse.SUPPRESS, metavar="FILE", help="TOML configuration file (also INTYG_CONFIG)")
    parser.set_defaults(command_prog=parser.prog)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # aliases repeat a parser
                _everywhere(child)


if __name__ == "__main__":
    raise SystemExit(main())
