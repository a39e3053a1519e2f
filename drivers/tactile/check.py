"""`haptics devices test` for a taxel board: stream for a while, then judge the link.

Measured: the frame rate on the board's own clock (and on the host's), frames lost (seq
gaps), CRC and framing errors, chunks and messages refused, stalls, and a look at the data
itself (peak pressure, taxels in contact, total force). Acceptance: frames arrive within 5 %
of the rate the board advertises, none lost, no CRC error, no stall.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

import numpy as np

from drivers.serial.check import LinkTest
from drivers.tactile.board import TaxelBoard
from haptics.errors import DeviceError

WARMUP_S: Final = 0.2
RATE_TOLERANCE: Final = 0.05


def run_taxel_test(port: str, duration_s: float = 10.0,
                   progress: Callable[[float], None] | None = None) -> dict[str, Any]:
    """Open the taxel board on `port`, stream WARMUP_S + `duration_s`, return the figures.

    JSON-able: kind "taxel", device (TaxelBoardInfo as a dict), rate_hz, host_rate_hz,
    expected_rate_hz, frames, frames_lost, crc_errors, framing_errors, length_errors,
    bad_chunks, incomplete_frames, stalls, longest_gap_ms (board clock), host_longest_gap_ms,
    device_errors, pressure {max_kpa,
    mean_contact_taxels, max_force_n}. Raises DeviceNotFound, FirmwareMismatch or DeviceError
    when the board cannot be opened, and DeviceError when the link is lost during the test.
    """
    if not duration_s > 0:
        raise DeviceError("devices test: duration must be positive")
    board = TaxelBoard(port)
    info = board.open()
    try:
        end = time.monotonic() + WARMUP_S
        while time.monotonic() < end and board.get(0.05) is not None:
            pass
        while board.get() is not None:
            pass
        board.reset_stats()
        peak = 0.0
        force = 0.0
        contact = 0
        n = 0
        t0 = time.monotonic()
        next_progress = t0
        while (now := time.monotonic()) < t0 + duration_s:
            frame = board.get(0.05)
            if board.lost is not None:
                raise DeviceError(f"devices test: {board.lost}")
            if frame is not None:
                n += 1
                peak = max(peak, float(frame.pressure_kpa.max()))
                force = max(force, frame.total_force_n(info.pitch_m))
                contact += int(np.count_nonzero(frame.counts))
            if progress is not None and now >= next_progress:
                progress((now - t0) / duration_s)
                next_progress = now + 0.1
        stats = board.stats()
    finally:
        board.close()
    return {
        "kind": "taxel",
        "port": port,
        "device": info.as_dict(),
        "duration_s": duration_s,
        "warmup_s": WARMUP_S,
        "expected_rate_hz": info.frame_rate_hz,
        "rate_hz": stats["rate_hz"],
        "host_rate_hz": stats["host_rate_hz"],
        "frames": stats["frames"],
        "frames_lost": stats["frames_lost"],
        "incomplete_frames": stats["incomplete_frames"],
        "crc_errors": stats["crc_errors"],
        "framing_errors": stats["framing_errors"],
        "length_errors": stats["length_errors"],
        "bad_chunks": stats["bad_chunks"],
        "stalls": stats["stalls"],
        "longest_gap_ms": stats["longest_gap_ms"],
        "host_longest_gap_ms": stats["host_longest_gap_ms"],
        "queue_overflows": stats["queue_overflows"],
        "device_errors": stats["device_errors"],
        "pressure": {
            "max_kpa": round(peak, 3),
            "mean_contact_taxels": round(contact / n, 2) if n else 0.0,
            "max_force_n": round(force, 4),
        },
    }


def evaluate_taxel(result: dict[str, Any]) -> dict[str, Any]:
    """Pass/fail of each figure of a `run_taxel_test` result, and `ok` for all of them."""
    expected = float(result.get("expected_rate_hz") or 0.0)
    rate = float(result.get("rate_hz") or 0.0)
    checks: dict[str, bool] = {
        "frames": int(result.get("frames") or 0) > 0,
        "rate": expected > 0 and abs(rate - expected) <= RATE_TOLERANCE * expected,
        "frames_lost": result.get("frames_lost") == 0,
        "crc_errors": result.get("crc_errors") == 0,
        "stalls": result.get("stalls") == 0,
    }
    return {**checks, "ok": all(checks.values())}


# `haptics devices test` finds this through the `haptics.link_tests` entry point "taxel".
LINK_TEST: Final = LinkTest(run=run_taxel_test, evaluate=evaluate_taxel)
