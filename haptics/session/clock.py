"""The device-to-host clock mapping of a session, fitted from the state stream (pure)."""

from __future__ import annotations

import numpy as np

from haptics.wire.messages import STATUS_LINK_HELD


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


def link_clock(
    sender_ns: np.ndarray, receiver_ns: np.ndarray, rtt_ns: np.ndarray
) -> dict[str, float]:
    """Relate a teleoperation link's two host clocks from a recorded state stream (pure).

    sender_ns: the operator's clock when it sent each sample (`device_time_ns`);
    receiver_ns: the follower's on receipt (`host_time_ns`); rtt_ns: the round trip measured
    then (`cmd_latency_ns`, −1 unknown). Assuming each way takes half the round trip, the
    follower's clock at the moment of sending is receiver − rtt/2; the fit is
    operator = offset + (1 + drift) · follower over the samples whose round trip is known and
    within 1.5× the smallest (queueing inflates the others). Returns offset_ns (operator minus
    follower at the first such sample), drift_ppm, rtt_min_ms and the samples used.
    Raises ValueError when fewer than two samples have a known round trip.
    """
    known = rtt_ns >= 0
    if int(np.count_nonzero(known)) < 2:
        raise ValueError("fewer than two samples with a known round trip: no link clock fit")
    rtt = rtt_ns[known].astype(np.float64)
    keep = rtt <= 1.5 * float(rtt.min()) + 1e5
    follower = receiver_ns[known][keep].astype(np.float64) - rtt[keep] / 2.0
    operator = sender_ns[known][keep].astype(np.float64)
    if follower.size < 2:
        raise ValueError("fewer than two samples near the smallest round trip: no link clock fit")
    f0 = float(follower[0])
    slope, intercept = np.polyfit(follower - f0, operator - float(operator[0]), 1)
    return {
        "offset_ns": float(operator[0]) + float(intercept) - f0,
        "drift_ppm": round((float(slope) - 1.0) * 1e6, 3),
        "rtt_min_ms": round(float(rtt.min()) / 1e6, 3),
        "samples": float(follower.size),
    }


def live_samples(status: np.ndarray) -> np.ndarray:
    """Which state rows the device (or the operator's side of a link) sent: a mask without
    the held samples a teleoperation follower's link repeats while the link is down
    (`STATUS_LINK_HELD`: their device time is the last one sent, not a new reading)."""
    return np.asarray((status.astype(np.uint32) & STATUS_LINK_HELD) == 0)
