"""The device-to-host clock mapping of a session, fitted from the state stream (pure)."""

from __future__ import annotations

import numpy as np


def clock_mapping(device_ns: np.ndarray, host_ns: np.ndarray) -> dict[str, float]:
    """Least-squares host = offset + (1 + drift) · device; residual p99 in µs (pure).

    Fewer than two samples give a zero fit. Raises ValueError or numpy.linalg.LinAlgError
    when no line fits (e.g. a device clock that never moved).
    """
    if device_ns.size < 2:
        return {"offset_ns": 0.0, "drift_ppm": 0.0, "residual_p99_us": 0.0}
    d = device_ns.astype(np.float64) - float(device_ns[0])
    h = host_ns.astype(np.float64) - float(host_ns[0])
    slope, intercept = np.polyfit(d, h, 1)
    resid = h - (slope * d + intercept)
    return {
        "offset_ns": float(host_ns[0]) - float(device_ns[0]) + float(intercept),
        "drift_ppm": round((float(slope) - 1.0) * 1e6, 3),
        "residual_p99_us": round(float(np.percentile(np.abs(resid), 99)) / 1e3, 3),
    }
