"""The command line and the settings: every setting is a flag of the commands that use it, ``--config``
works before and after the sub-command, and a database that cannot be used is one line naming the
setting (exit status 2), never a traceback."""

from __future__ import annotations

import argparse
import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from intygstjanst.cli import build_parser, main
from intygstjanst.settings import Settings, about_setting, flag_of, flag_values

from intygstjanst.tests.conftest import free_port
from intygstjanst.tests.support import REPO_DIR

SETTINGS = [field.name for field in dataclasses.fields(Settings)]


def sample_flag(name: str) -> list[str]:
    """The flag of a setting with a value other than its default."""
    value = getattr(Settings(), name)
    if isinstance(value, bool):
        return [flag_of(name) if not value else "--no-" + flag_of(name).removeprefix("--")]
    choices = about_setting(name).choices
    if choices:  # tls_mode, signature_mode: argparse takes only a listed value
        return [flag_of(name), next(choice for choice in choices if choice != value)]
    if isinstance(value, (int, float)):
        return [flag_of(name), str(value + 1)]
    return [flag_of(name), f"some-{name}"]


@pytest.mark.parametrize("name", SETTINGS)
def test_every_setting_is_a_flag_of_serve(name: str) -> None:
    """Generated from the settings definition, so a setting added later gets its flag too."""
    args = build_parser().parse_args(["serve", *sample_flag(name)])
    loaded = Settings.load(flag_values(args), env={})
    assert getattr(loaded, name) != getattr(Settings(), name)


def test_commands_take_the_settings_of_their_layer() -> None:
    parser = build_parser()

    def flags(*command: str) -> set[str]:
        found: set[str] = set()
        for name in SETTINGS:
            try:
                args = parser.parse_args([*command, *sample_flag(name)])
            except SystemExit:
                continue
            found |= set(flag_values(args))
        return found

    assert flags("worker") >= {"database_url", "delivery_base_url", "recipients_file", "certificate_types_dir", "retry_base_delay"}
    assert not flags("worker") & {"port", "tls_mode", "authorization_file", "persons_file", "schematron_dir"}
    assert flags("outbox", "status") == flags("db", "upgrade") == {"data_dir", "database_url"}
    parse_limits = {"max_body_bytes", "max_depth", "max_elements", "max_namespace_declarations", "max_attributes",
                    "max_attributes_per_element", "max_name_length", "max_attribute_length"}
    assert flags("validate", "x.xml") == {"certificate_types_dir", "max_listed_violations", *parse_limits}
    assert flags("authorization", "reload") == {"data_dir"}
    assert flags("recipients", "check") == {"recipients_file", "certificate_types_dir", "delivery_base_url"}


def test_a_command_option_and_a_setting_of_the_same_name_do_not_mix() -> None:
    args = build_parser().parse_args(["stub-recipient", "--port", "9999", "--record", "r.jsonl"])
    assert flag_values(args) == {}


@pytest.mark.parametrize("position", ["before", "after"])
def test_config_is_accepted_before_or_after_the_sub_command(tmp_path: Path, capsys: pytest.CaptureFixture[str], position: str) -> None:
    config = tmp_path / "intyg.toml"
    config.write_text(f'data_dir = "{tmp_path / "from-config"}"\n', encoding="utf-8")
    command = ["db", "upgrade"]
    argv = ["--config", str(config), *command] if position == "before" else [*command, "--config", str(config)]
    assert main(argv) == 0
    assert str(tmp_path / "from-config" / "intygstjanst.db") in capsys.readouterr().out


def test_a_flag_beats_the_config_file_given_after_the_sub_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "intyg.toml"
    config.write_text(f'data_dir = "{tmp_path / "from-config"}"\n', encoding="utf-8")
    assert main(["db", "upgrade", "--config", str(config), "--data-dir", str(tmp_path / "from-flag")]) == 0
    assert str(tmp_path / "from-flag" / "intygstjanst.db") in capsys.readouterr().out


def test_a_missing_config_file_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "--config", "/nonexistent/intyg.toml"]) == 2
    assert capsys.readouterr().err == (
        "intygstjanst db upgrade: error: config file /nonexistent/intyg.toml: [Errno 2] No such file or directory: "
        "'/nonexistent/intyg.toml'\n"
    )


UNREACHABLE = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing"

BAD_DATABASES = [
    ("mysql://user:secret@db.example/intyg", r"database_url: the database driver for 'mysql://user:\*\*\*@db.example/intyg' is not installed \(No module named 'MySQLdb'\); supported: sqlite:///FILE and postgresql\+psycopg://USER@HOST/DB"),
    ("nodb://x", r"database_url: 'nodb://x' is not a usable database URL: Can't load plugin: sqlalchemy.dialects:nodb"),
    ("not a url", r"database_url: 'not a url' is not a usable database URL: Could not parse SQLAlchemy URL"),
    (UNREACHABLE, rf"database_url: cannot connect to {re.escape(UNREACHABLE)}: connection failed: .*Connection refused"),
]


@pytest.mark.parametrize(
    ("prog", "options"),
    [("db upgrade", []), ("serve", ["--tls-mode", "off"]), ("dev", ["--tls-mode", "off"]), ("worker", ["--once"]), ("outbox status", [])],
)
@pytest.mark.parametrize(("url", "message"), BAD_DATABASES, ids=["missing driver", "unknown dialect", "malformed", "unreachable"])
def test_a_database_that_cannot_be_used_is_one_line_naming_the_setting(
    tmp_path: Path, prog: str, options: list[str], url: str, message: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "intygstjanst.cli", *prog.split(), *options, "--database-url", url, "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=REPO_DIR,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert re.fullmatch(rf"intygstjanst {prog}: error: {message}.*", lines[0]), lines[0]
    assert "secret" not in done.stderr


def test_dev_ends_with_the_status_of_a_part_that_refused_its_settings(tmp_path: Path) -> None:
    """The service's own line names what is wrong; dev says which part it was and passes its status on."""
    missing = tmp_path / "recipients.toml"
    done = subprocess.run(
        [sys.executable, "-m", "intygstjanst.cli", "dev", "--tls-mode", "off", "--port", str(free_port()),
         "--data-dir", str(tmp_path / "var"), "--recipients-file", str(missing)],
        capture_output=True,
        text=True,
        cwd=REPO_DIR,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"intygstjanst serve: error: {missing}: cannot read the recipient registry: No such file or directory",
        "intygstjanst dev: error: the service did not start (exit status 2)",
    ]
    assert "Traceback" not in done.stdout


@pytest.mark.parametrize(
    ("prog", "options"),
    [("worker", ["--once"]), ("outbox status", []), ("sickleave list", ["SE-UNIT-1"]), ("sickleave check", []), ("sickleave rebuild", [])],
)
def test_commands_other_than_serve_refuse_a_database_without_the_newest_schema(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], prog: str, options: list[str]
) -> None:
    assert main([*prog.split(), *options, "--data-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"intygstjanst {prog}: error: data_dir (SQLite default): "
        f"the database sqlite:///{tmp_path / 'intygstjanst.db'} has no tables yet; run 'intygstjanst db upgrade' "
        "(or start 'intygstjanst serve', which does it)\n"
    )


def test_an_unusable_sqlite_location_names_the_data_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    assert main(["db", "upgrade", "--data-dir", str(blocker / "var")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("intygstjanst db upgrade: error: data_dir (SQLite default): cannot use sqlite:///") and err.count("\n") == 1


def test_every_help_is_plain_text() -> None:
    """The top-level help and every command's: no docstring markup leaks into what users read."""
    parser = build_parser()
    assert "Every setting is a flag of the commands that use it" in parser.format_help()
    pending, seen = [("intygstjanst", parser)], []
    while pending:
        name, current = pending.pop()
        text = current.format_help()
        assert "``" not in text and ":class:" not in text and ":func:" not in text, name
        seen.append(name)
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                pending.extend((f"{name} {command}", child) for command, child in action.choices.items())
    assert {"intygstjanst serve", "intygstjanst dev", "intygstjanst outbox list", "intygstjanst types reload"} <= set(seen)


def test_every_setting_is_in_the_readme_configuration_table() -> None:
    readme = (REPO_DIR / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([a-z_]+)`", section))
    assert set(SETTINGS) - documented == set(), "settings missing from the README's Configuration table"
