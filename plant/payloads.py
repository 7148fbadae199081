"""The unified-namespace JSON payload, built one way for live publishing and for backfills.

`{"value": <number|string>, "timestamp": "<ISO-8601 UTC, ms, Z>", "quality": "good"}`. The
vectorised builder (Arrow compute) is the definition; the scalar one calls it, so a live
message and a backfilled one are byte-identical.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def _json_string(values: pa.Array) -> pa.Array:
    escaped = pc.replace_substring(pc.replace_substring(values, "\\", "\\\\"), '"', '\\"')
    return pc.binary_join_element_wise('"', escaped, '"', "")


def render_values(values: pa.Array) -> pa.Array:
    """Each value as JSON text: numbers as Arrow prints them, strings quoted, null as null."""
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        text = _json_string(values)
    elif pa.types.is_boolean(values.type):
        text = pc.if_else(values, "true", "false")
    else:
        text = pc.cast(values, pa.string())
    return pc.fill_null(text, "null")


def uns_payloads(
    values: pa.Array, timestamps_ms: np.ndarray | pa.Array, qualities: pa.Array | str = "good"
) -> pa.Array:
    """UTF-8 JSON payloads (binary) for arrays of values, epoch-ms timestamps and qualities."""
    return payloads_from_text(render_values(values), timestamps_ms, qualities)


def payloads_from_text(
    text: pa.Array, timestamps_ms: np.ndarray | pa.Array, qualities: pa.Array | str = "good"
) -> pa.Array:
    """Payloads from values already rendered by `render_values`."""
    # Readings share few distinct timestamps: format each once (strftime is the costly step).
    unique_ms, inverse = np.unique(np.asarray(timestamps_ms, dtype=np.int64), return_inverse=True)
    unique_iso = pc.strftime(
        pa.array(unique_ms, pa.timestamp("ms", tz="UTC")), format="%Y-%m-%dT%H:%M:%SZ"
    )
    iso = unique_iso.take(pa.array(inverse))
    if isinstance(qualities, str):
        qualities = pa.repeat(pa.scalar(qualities), len(text))
    joined = pc.binary_join_element_wise(
        '{"value": ', text, ', "timestamp": "', iso, '", "quality": "', qualities, '"}', ""
    )
    return pc.cast(joined, pa.binary())


def uns_payload(
    value: float | int | bool | str | None, timestamp: datetime, quality: str = "good"
) -> bytes:
    """One payload, byte-identical to what `uns_payloads` gives for the same reading."""
    if isinstance(value, bool):
        arr = pa.array([value], pa.bool_())
    elif isinstance(value, int):
        arr = pa.array([value], pa.int64())
    elif isinstance(value, float):
        arr = pa.array([value], pa.float64())
    else:
        arr = pa.array([value], pa.string())
    ms = round(timestamp.timestamp() * 1000)
    return uns_payloads(arr, np.array([ms]), quality)[0].as_py()
