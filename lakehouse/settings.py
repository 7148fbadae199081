"""Typed settings for plantlake, from `PLANTLAKE_*` environment variables and `plantlake.toml`.

Environment variables win over the file; nested keys use `__` (`PLANTLAKE_PORTS__MQTT=1884`).
A bad value stops with `SettingsError` naming the key and the expected form.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "PLANTLAKE_"
CONFIG_FILE_ENV = "PLANTLAKE_CONFIG"
DEFAULT_CONFIG_FILE = "plantlake.toml"
REPO_ROOT = Path(__file__).resolve().parents[1]

Port = Annotated[int, Field(ge=1, le=65535, description="a TCP port, 1-65535")]

_SPARK_MASTER = re.compile(
    r"^(local(\[(\*|\d+)(,\d+)?\])?|spark://[\w.\-]+:\d+(,[\w.\-]+:\d+)*|yarn|k8s://\S+)$"
)


class SettingsError(ValueError):
    """A setting has a value plantlake cannot use; the message names the key and the expected form."""


class Ports(BaseModel):
    """Loopback ports of the services plantlake starts (`make up`); tests pick free ports instead."""

    mqtt: Port = 1883
    postgres: Port = 5433
    opcua: Port = 4840
    # the web UIs' front door (one port, one origin per UI; the UIs themselves on Unix sockets)
    dagster: Port = 3000
    mlflow: Port = 5000
    sql: Port = 10000
    jupyter: Port = 8888  # the front door too
    ingest_metrics: Port = 9464  # Prometheus /metrics of the ingestion service
    engine: Port = 15002  # the warm Spark Connect engine (lakehouse.engine)


class Settings(BaseSettings):
    """Where the lake lives and how Spark and the services run."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    lake_root: Path = Field(Path("lake"), description="folder of the Delta tables (a path)")
    spark_master: str = Field(
        "local[*]", description="local, local[N], local[*], spark://host:port, yarn or k8s://…"
    )
    engine: str = Field(
        "auto",
        description="auto (this lake's running engine, else a local session), local, or "
        "sc://host:port",
    )
    spark_driver_memory: str = Field("4g", description="JVM size such as 2g or 4096m")
    spark_shuffle_partitions: int = Field(4, ge=1, description="a whole number >= 1")
    jars_dir: Path = Field(
        REPO_ROOT / "infra" / "jars", description="folder of the jars `make setup` resolved"
    )
    mlflow_tracking_uri: str | None = Field(
        None, description="sqlite:///…, postgresql://… or http(s)://… (default: SQLite in the lake)"
    )
    ports: Ports = Field(default_factory=Ports)

    @field_validator("spark_master")
    @classmethod
    def _spark_master_form(cls, value: str) -> str:
        if not _SPARK_MASTER.match(value):
            raise ValueError("not a Spark master URL")
        return value

    @field_validator("engine")
    @classmethod
    def _engine_form(cls, value: str) -> str:
        if value not in ("auto", "local") and not re.fullmatch(r"sc://[^/\s;]+:\d+", value):
            raise ValueError("must be auto, local or sc://host:port")
        return value

    @field_validator("spark_driver_memory")
    @classmethod
    def _memory_form(cls, value: str) -> str:
        if not re.fullmatch(r"\d+[kmgt]", value.lower()):
            raise ValueError("not a JVM memory size")
        return value

    @field_validator("mlflow_tracking_uri")
    @classmethod
    def _tracking_uri_form(cls, value: str | None) -> str | None:
        if value is not None and not re.match(
            r"^(sqlite|postgresql|mysql|https?|databricks)\b", value
        ):
            raise ValueError("not an MLflow tracking URI")
        return value

    @property
    def resolved_tracking_uri(self) -> str:
        """The MLflow tracking URI: the configured one, or SQLite beside the lake."""
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.lake_root / '_mlflow' / 'mlflow.db').resolve()}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE))
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )


def _describe_error(error: dict) -> str:
    loc = [str(part) for part in error["loc"]]
    key = ".".join(loc)
    env = ENV_PREFIX + "__".join(loc).upper()
    expected = _expected_form(loc)
    got = error.get("input")
    why = error["msg"]
    if error["type"] == "extra_forbidden":
        return f"unknown setting {key!r} (env {env}); known settings: {', '.join(_known_keys())}"
    return f"bad setting {key!r} (env {env}): got {got!r}: {why}; expected {expected}"


def _expected_form(loc: list[str]) -> str:
    model: type[BaseModel] = Settings
    field = None
    for part in loc:
        field = model.model_fields.get(part)
        if field is None:
            return "see lakehouse/settings.py"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            model = annotation
    if field is None:
        return "see lakehouse/settings.py"
    return field.description or "a TCP port, 1-65535"


def _known_keys() -> list[str]:
    keys = [name for name in Settings.model_fields if name != "ports"]
    return keys + [f"ports.{name}" for name in Ports.model_fields]


def load_settings(**overrides: object) -> Settings:
    """Read the settings now (environment, then `plantlake.toml`); raise SettingsError if bad."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = [_describe_error(err) for err in exc.errors()]
        raise SettingsError("\n".join(lines)) from None


@cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return load_settings()
