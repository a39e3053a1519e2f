"""Test sessions written by the real recorder code (`Recording`, `StreamWriter`), without
processes: ideal timing, so every figure and verdict is known in advance."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from haptics.session.manifest import Manifest
from haptics.session.recorder import RecorderConfig, Recording
from haptics.wire.messages import COMMAND, STATE, TELEMETRY

RATE_HZ = 1000.0
PERIOD_NS = 1_000_000


def write_session(
    root: Path,
    n: int = 1000,
    *,
    rate_hz: float = RATE_HZ,
    drop_state: Iterable[int] = (),
    batch: int = 100,
    close: bool = True,
) -> Path:
    """A session of `n` ticks at `rate_hz`, flushed every `batch` rows; state samples whose
    seq is in `drop_state` never arrive. `close=False` leaves it as a killed recorder would."""
    period = round(1e9 / rate_hz)
    manifest = Manifest(
        loop={"rate_hz": rate_hz, "safety": {"max_force_n": 8.0}},
        device={"driver": "simulated", "schema": {"rate_hz": rate_hz}},
        scene={"scene": "palpation"},
    )
    cfg = RecorderConfig(endpoints={}, session_dir=root, manifest=manifest, reserve_bytes=0)
    rec = Recording(cfg)
    dropped = set(drop_state)
    for i in range(1, n + 1):
        t = 10**9 + i * period
        contact = int(i > n // 2)
        if i not in dropped:
            rec.writers["state"].add(
                STATE.make(
                    seq=i, device_time_ns=i * period, host_time_ns=t + 40_000, pz=-0.001, fz=1.0
                )
            )
        rec.writers["command"].add(COMMAND.make(seq=i, state_seq=i, host_time_ns=t, fz=1.0))
        rec.writers["telemetry"].add(
            TELEMETRY.make(
                tick=i,
                state_seq=i,
                deadline_ns=t,
                wake_ns=t,
                compute_ns=20_000,
                contact=contact,
                depth_m=0.001 * contact,
                tissue_force_n=2.0 * contact,
                fz=2.0 * contact,
            )
        )
        if i % batch == 0:
            rec.flush()
    rec.flush()
    if close:
        rec.finish({"published": {"state": n, "command": n, "telemetry": n}, "reason": "finished"})
    return root


def batch_spans(path: Path) -> list[tuple[int, int]]:
    """Byte range (start, end) of each record batch message of an intact stream file."""
    from haptics.session.streams import scan_stream

    scan = scan_stream(path)
    assert scan.intact
    ends = [*scan.batch_offsets[1:], scan.size - (8 if scan.ended else 0)]
    return list(zip(scan.batch_offsets, ends, strict=True))


def flip_bit(path: Path, offset: int, bit: int = 0) -> None:
    """Flip one bit of a file in place."""
    data = bytearray(path.read_bytes())
    data[offset] ^= 1 << bit
    path.write_bytes(bytes(data))
