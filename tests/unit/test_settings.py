"""Configuration precedence: flags over INTYG_* environment over the TOML file, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from intygstjanst.settings import Settings, SettingsError


def test_flags_beat_environment_beat_file(tmp_path: Path) -> None:
    config = tmp_path / "intyg.toml"
    config.write_text('port = 9001\nhost = "0.0.0.0"\nworkers = 3\ntrusted_proxies = ["10.0.0.1"]\n', encoding="utf-8")
    env = {"INTYG_PORT": "9002", "INTYG_WORKERS": "2"}
    settings = Settings.load({"port": 9003}, env=env, config_file=config)
    assert (settings.port, settings.workers, settings.host, settings.trusted_proxies) == (9003, 2, "0.0.0.0", ("10.0.0.1",))
    assert Settings.load(env={"INTYG_CONFIG": str(config)}).port == 9001


def test_values_are_typed_and_errors_name_source_and_setting(tmp_path: Path) -> None:
    settings = Settings.load(env={"INTYG_PLATFORM_CONSUMERS": "A, B", "INTYG_DATA_DIR": str(tmp_path), "INTYG_DELIVERY_TIMEOUT": "2.5"})
    assert settings.platform_consumers == ("A", "B") and settings.data_dir == tmp_path and settings.delivery_timeout == 2.5
    assert settings.effective_database_url == f"sqlite:///{(tmp_path / 'intygstjanst.db').resolve()}"
    with pytest.raises(SettingsError, match="environment: port must be an integer"):
        Settings.load(env={"INTYG_PORT": "eighty"})
    bad = tmp_path / "bad.toml"
    bad.write_text("colour = 'blue'\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="unknown setting 'colour'"):
        Settings.load(env={}, config_file=bad)


def test_as_environment_round_trips_for_worker_processes(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, port=9100, platform_consumers=("X", "Y"))
    assert Settings.load(env=settings.as_environment()) == settings
