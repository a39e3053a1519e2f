"""LeRobot's feature descriptions and per-feature statistics (mean, std, min, max, count),
mergeable across episodes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyarrow as pa

from haptics.dataset.export.lerobot.layout import FRAME_VECTORS, SAMPLE_NAMES, SAMPLES, WINDOWS

# -- features and stats ----------------------------------------------------------------------


def _dtype(t: pa.DataType) -> str:
    """LeRobot's dtype name of a column's values (float32, float64, int64, string, bool)."""
    while pa.types.is_list(t) or pa.types.is_fixed_size_list(t):
        t = t.value_type
    if pa.types.is_string(t) or pa.types.is_boolean(t):
        return "string" if pa.types.is_string(t) else "bool"
    kind = ("float" if pa.types.is_floating(t)
            else "uint" if pa.types.is_unsigned_integer(t) else "int")
    return f"{kind}{t.bit_width}"


def _is_list(t: pa.DataType) -> bool:
    return bool(pa.types.is_list(t) or pa.types.is_fixed_size_list(t))


def _shape(t: pa.DataType) -> list[int | None]:
    """LeRobot's shape of a column: [1] for a scalar, a list's length (None: varies) per
    level of nesting."""
    if not _is_list(t):
        return [1]
    size = t.list_size if pa.types.is_fixed_size_list(t) else None
    return [size, *(_shape(t.value_type) if _is_list(t.value_type) else [])]


def _names(feat: str) -> list[str] | None:
    for table in (FRAME_VECTORS, WINDOWS):
        if feat in table:
            return list(table[feat][1])
    return SAMPLE_NAMES if feat in SAMPLES else None


def features_of(schema: pa.Schema) -> dict[str, dict[str, Any]]:
    """LeRobot feature entries (dtype, shape, names) of a frame table's columns."""
    return {
        f.name: {"dtype": _dtype(f.type), "shape": _shape(f.type), "names": _names(f.name)}
        for f in schema
        if f.name != "task"
    }


def numeric_values(col: pa.ChunkedArray | pa.Array) -> np.ndarray | None:
    """A column as a 2-D float64 array (samples × dims); None for strings."""
    t = col.type
    if pa.types.is_string(t):
        return None
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    while pa.types.is_list(arr.type):
        arr = arr.flatten()
    if pa.types.is_fixed_size_list(arr.type):
        k = arr.type.list_size
        flat = np.asarray(arr.flatten().to_numpy(zero_copy_only=False), dtype=np.float64)
        return flat.reshape(-1, k)
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64).reshape(-1, 1)


def partial_stats(values: np.ndarray) -> dict[str, list[float]]:
    """Mergeable sums of a samples × dims array: count, min, max, sum, sum of squares (over
    the samples whose every value is finite: a bad sample recorded as NaN counts nowhere)."""
    values = values[np.isfinite(values).all(axis=1)]
    if not len(values):
        k = values.shape[1]
        return {"count": [0.0], "min": [math.inf] * k, "max": [-math.inf] * k,
                "sum": [0.0] * k, "sumsq": [0.0] * k}
    return {
        "count": [float(len(values))],
        "min": values.min(axis=0).tolist(),
        "max": values.max(axis=0).tolist(),
        "sum": values.sum(axis=0).tolist(),
        "sumsq": (values * values).sum(axis=0).tolist(),
    }


def merge_stats(parts: list[dict[str, list[float]]]) -> dict[str, list[float]]:
    """Partial sums of several episodes together."""
    out = {k: list(v) for k, v in parts[0].items()}
    for p in parts[1:]:
        out["count"] = [out["count"][0] + p["count"][0]]
        for key, fn in (("min", min), ("max", max)):
            out[key] = [fn(a, b) for a, b in zip(out[key], p[key], strict=True)]
        for key in ("sum", "sumsq"):
            out[key] = [a + b for a, b in zip(out[key], p[key], strict=True)]
    return out


def final_stats(p: dict[str, list[float]]) -> dict[str, list[float]]:
    """min, max, mean, std, count (LeRobot's stats.json entry) from partial sums."""
    n = p["count"][0]
    if not n:  # no finite sample: zeros, never inf (JSON has none)
        zero = [0.0] * len(p["sum"])
        return {"min": zero, "max": zero, "mean": zero, "std": zero, "count": [0]}
    mean = [s / n for s in p["sum"]]
    std = [math.sqrt(max(q / n - m * m, 0.0)) for q, m in zip(p["sumsq"], mean, strict=True)]
    return {"min": p["min"], "max": p["max"], "mean": mean, "std": std, "count": [int(n)]}


def table_stats(table: pa.Table, names: tuple[str, ...] | None = None
                ) -> dict[str, dict[str, list[float]]]:
    """Partial sums of every numeric column of a frame table (or of `names`) (pure)."""
    out = {}
    for name in names or table.column_names:
        values = numeric_values(table.column(name))
        if values is not None:
            out[name] = partial_stats(values)
    return out


def image_stats(stats: dict[str, list[float]]) -> dict[str, Any]:
    """Camera stats shaped as LeRobot's: per channel [3][1][1], values in 0..1."""
    return {k: ([[[v]] for v in vals] if k != "count" else vals) for k, vals in stats.items()}
