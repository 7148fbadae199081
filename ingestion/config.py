"""The ingestion YAML: which sources a deployment reads, and how. Secrets never live in it.

```yaml
landing_root: lake/_landing        # optional; default <lake_root>/_landing
loader_interval_s: 30
metrics_port: 9464                 # Prometheus /metrics on 127.0.0.1 (null: none)
sources:
  - type: mqtt
    name: uns
    port: 1883
    client_id: plantlake-uns
    username: plantlake
    password_env: PLANTLAKE_MQTT_PASSWORD
  - type: opcua
    name: berlin-opcua
    endpoint: opc.tcp://127.0.0.1:4840/plantlake/
    root: ["0:Objects", "2:acme"]
  - type: postgres
    name: mes
    dbname: plant
    user: plantlake
    password_env: PLANTLAKE_PG_PASSWORD
    tables:
      - {table: mes.work_orders, key: [work_order_id]}
      - {table: erp.products, key: [product_id], mode: full}
```
A bad file stops with `IngestionConfigError` naming the key, e.g. `sources[1].endpoint`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from ingestion.mqtt.connector import MqttSourceConfig
from ingestion.opcua.connector import OpcUaSourceConfig
from ingestion.sql.extractor import PostgresSourceConfig


class IngestionConfigError(ValueError):
    """The ingestion YAML cannot be used; the message names the key."""


class MqttSource(MqttSourceConfig):
    type: Literal["mqtt"]


class OpcUaSource(OpcUaSourceConfig):
    type: Literal["opcua"]


class PostgresSource(PostgresSourceConfig):
    type: Literal["postgres"]


Source = Annotated[MqttSource | OpcUaSource | PostgresSource, Field(discriminator="type")]


class IngestionConfig(BaseModel):
    """Every source of one deployment plus where and how often to load bronze."""

    model_config = {"extra": "forbid"}

    landing_root: Path | None = None
    loader_interval_s: float = Field(30.0, gt=0)
    status_interval_s: float = Field(5.0, gt=0)
    metrics_port: int | None = Field(
        9464, ge=0, le=65535, description="Prometheus /metrics port (0: any free port; null: off)"
    )
    metrics_host: str = Field(
        "127.0.0.1", description="address the metrics listen on; loopback unless told otherwise"
    )
    sources: list[Source] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> IngestionConfig:
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {dupes}")
        return self


def _key(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("mqtt", "opcua", "postgres") and out.endswith("]"):
            continue  # the discriminator's branch name is not a key of the file
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def parse_ingestion_config(data: object, origin: str = "ingestion config") -> IngestionConfig:
    """Validate already-loaded YAML; IngestionConfigError names each bad key."""
    if data is None:
        data = {}
    try:
        return IngestionConfig.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"{origin}: {_key(err['loc'])}: {err['msg']} (got {err.get('input')!r})"
            for err in exc.errors()
        ]
        raise IngestionConfigError("\n".join(lines)) from None


def load_ingestion_config(path: Path | str) -> IngestionConfig:
    """Read and validate an ingestion YAML file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise IngestionConfigError(f"ingestion config {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise IngestionConfigError(f"ingestion config {path} is not valid YAML: {exc}") from None
    return parse_ingestion_config(data, origin=str(path))
