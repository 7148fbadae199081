"""Settings come from the environment and plantlake.toml; bad values name their key."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for key in list(__import__("os").environ):
        if key.startswith("PLANTLAKE_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no plantlake.toml unless a test writes one


def test_defaults():
    settings = load_settings()
    assert settings.lake_root == Path("lake")
    assert settings.spark_master == "local[*]"
    assert settings.ports.mqtt == 1883
    assert settings.resolved_tracking_uri.startswith("sqlite:///")
    assert settings.resolved_tracking_uri.endswith("/lake/_mlflow/mlflow.db")


def test_environment_overrides_file(monkeypatch, tmp_path):
    (tmp_path / "plantlake.toml").write_text(
        'lake_root = "/data/lake"\nspark_master = "local[2]"\n[ports]\nmqtt = 1884\n'
    )
    monkeypatch.setenv("PLANTLAKE_SPARK_MASTER", "spark://10.0.0.5:7077")
    monkeypatch.setenv("PLANTLAKE_PORTS__SQL", "10001")
    settings = load_settings()
    assert settings.lake_root == Path("/data/lake")
    assert settings.spark_master == "spark://10.0.0.5:7077"
    assert (settings.ports.mqtt, settings.ports.sql) == (1884, 10001)


def test_bad_spark_master_names_the_key(monkeypatch):
    monkeypatch.setenv("PLANTLAKE_SPARK_MASTER", "locl[4]")
    with pytest.raises(SettingsError) as err:
        load_settings()
    message = str(err.value)
    assert "'spark_master'" in message and "PLANTLAKE_SPARK_MASTER" in message
    assert "'locl[4]'" in message and "spark://host:port" in message


def test_bad_nested_port_names_the_key(monkeypatch):
    monkeypatch.setenv("PLANTLAKE_PORTS__MQTT", "99999")
    with pytest.raises(SettingsError, match=r"'ports\.mqtt' \(env PLANTLAKE_PORTS__MQTT\)") as err:
        load_settings()
    assert "1-65535" in str(err.value)


def test_unknown_key_in_file_is_refused(tmp_path):
    (tmp_path / "plantlake.toml").write_text('lake_rot = "/tmp/x"\n')
    with pytest.raises(SettingsError, match=r"unknown setting 'lake_rot'.*lake_root"):
        load_settings()


def test_bad_memory_and_tracking_uri(monkeypatch):
    monkeypatch.setenv("PLANTLAKE_SPARK_DRIVER_MEMORY", "lots")
    monkeypatch.setenv("PLANTLAKE_MLFLOW_TRACKING_URI", "file:///tmp/mlruns")
    with pytest.raises(SettingsError) as err:
        load_settings()
    assert "'spark_driver_memory'" in str(err.value)
    assert "'mlflow_tracking_uri'" in str(err.value)


def test_an_engine_that_is_not_auto_local_or_sc_host_port_names_the_key(monkeypatch):
    monkeypatch.setenv("PLANTLAKE_ENGINE", "spark://127.0.0.1:7077")
    with pytest.raises(SettingsError, match=r"'engine' \(env PLANTLAKE_ENGINE\).*sc://host:port"):
        load_settings()
    monkeypatch.setenv("PLANTLAKE_ENGINE", "sc://localhost:15002")
    assert load_settings().engine == "sc://localhost:15002"
