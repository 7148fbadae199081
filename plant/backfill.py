"""Backfill: N days of plant history written as files, without servers, as fast as numpy allows.

Layout under `out_dir`: `uns/date=YYYY-MM-DD/part-0.parquet` (topic + the exact JSON payload the
MQTT publisher sends, plus typed columns), `mes/<schema.table>/part-0.parquet` (row versions),
`truth/shifts.parquet` and `truth/failures.parquet` (ground truth).
"""

from __future__ import annotations

import shutil
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from plant.config import PlantConfig
from plant.mes import activity, master_data
from plant.model import PlantModel, oee
from plant.servers.mes import PRIMARY_KEYS


@dataclass(frozen=True)
class BackfillSummary:
    days: int
    readings: int
    mes_rows: int
    failures: int
    seconds: float
    out_dir: Path
    oee: dict[str, float]

    @property
    def readings_per_s(self) -> float:
        return self.readings / self.seconds if self.seconds else 0.0

    def __str__(self) -> str:
        return (
            f"{self.readings:,} readings, {self.mes_rows:,} MES/ERP row versions, {self.failures} failures "
            f"in {self.seconds:.1f} s ({self.readings_per_s:,.0f} readings/s); ground-truth OEE "
            f"{self.oee['oee']:.1%} (A {self.oee['availability']:.1%}, P {self.oee['performance']:.1%}, Q {self.oee['quality']:.1%})"
        )


def default_start(days: int) -> datetime:
    """Midnight UTC `days` days before today."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days)


def backfill(
    config: PlantConfig,
    seed: int,
    days: int,
    out_dir: Path | str,
    start: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    *,
    sample_s: int | None = None,
    aux: bool = True,
    detail_from: datetime | None = None,
) -> BackfillSummary:
    """Generate `days` days of the plant from `start` (default: ending at today 00:00 UTC).

    `sample_s` and `aux` make it a historian export (see `PlantModel.readings`): weeks of
    history for model training at a fraction of the readings. With `detail_from`, the days from
    then on are generated in full instead (one plant run: counters and wear carry over).
    """
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)  # a backfill is a whole: never mix two runs' files
    started = time.perf_counter()
    start = start or default_start(days)
    start_s = int(start.timestamp())
    model = PlantModel(config, seed, start_s, start_s + days * 86400)
    readings = 0
    for d in range(days):
        a = start_s + d * 86400
        if detail_from is not None and a >= detail_from.timestamp():
            table = model.readings(a, a + 86400)
        else:
            table = model.readings(a, a + 86400, sample_s=sample_s, aux=aux)
        folder = out / "uns" / f"date={datetime.fromtimestamp(a, UTC):%Y-%m-%d}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            table, folder / "part-0.parquet", compression="zstd", row_group_size=1_000_000
        )
        readings += table.num_rows
        if progress:
            progress(1)
    by_table: dict[str, list[dict]] = defaultdict(list)
    for change in [*master_data(model), *activity(model)]:
        by_table[change.table].append(change.row)
    for table, rows in by_table.items():
        folder = out / "mes" / table
        folder.mkdir(parents=True, exist_ok=True)
        rows_table = pa.Table.from_pylist(rows)
        # the loader needs each table's key, as the database would tell it
        rows_table = rows_table.replace_schema_metadata(
            {"primary_key": ",".join(PRIMARY_KEYS[table])}
        )
        pq.write_table(rows_table, folder / "part-0.parquet")
    truth = model.truth_shifts()
    failures = model.truth_failures()
    (out / "truth").mkdir(parents=True, exist_ok=True)
    pq.write_table(truth, out / "truth" / "shifts.parquet")
    pq.write_table(failures, out / "truth" / "failures.parquet")
    return BackfillSummary(
        days,
        readings,
        sum(len(r) for r in by_table.values()),
        failures.num_rows,
        time.perf_counter() - started,
        out,
        oee(truth),
    )
