"""A session's overview: every signal (`signals.session_signals`) at a few coarse
resolutions, kept beside the session so a whole-session plot reads a few MB, not the hour.

Each level holds, per block of `block` samples, the block's minimum and maximum sample at
their own times (the tail that fills no block kept whole). The coarse levels (`BLOCKS` from
`COARSE_BLOCK` up) are always kept; a finer one only while it stays small (`FINE_POINTS`),
so a slow stream (video frames, a tactile array) over an hour still has a level dense enough
for the whole-session plot; a signal of at most `RAW_SAMPLES` samples also keeps every
sample (block 1). The event instants (telemetry) are kept too.

```
SESSION/.overview/traces.arrow   Arrow IPC file: one record batch (t int64, y float64) per
                                 level and one for the events (y: the EVENT_* bits); the
                                 schema's metadata says which is which, the format version
                                 and the fingerprint of the session files it was built from
```

The folder is hidden and holds no stream, so a session's own file list (its fingerprint for
features and exports) does not change. The file is written to a temporary name and renamed
into place; one whose version or fingerprint (manifest and stream files: names, sizes,
modification times) does not match is ignored and rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from haptics.session.manifest import MANIFEST_NAME
from haptics.session.reading import Session
from haptics.session.signals import Signal, session_events, session_signals, signal_values

log = logging.getLogger(__name__)

OVERVIEW_VERSION = 1
OVERVIEW_DIR = ".overview"
OVERVIEW_FILE = "traces.arrow"
BLOCKS = (8, 64, 512, 4096)  # samples per block of each level, finest first
COARSE_BLOCK = 64  # levels of this block size and above are always kept
FINE_POINTS = 60_000  # a finer level is kept when it has at most this many points
RAW_SAMPLES = 20_000  # a signal this short keeps every sample in the overview too
_META_KEY = b"haptics.overview"
_SCHEMA = pa.schema([("t", pa.int64()), ("y", pa.float64())])


@dataclass(frozen=True)
class Level:
    """One resolution of a signal: `block` samples per min/max pair (1: every sample)."""

    block: int
    t: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class SignalOverview:
    """A signal, how many samples it has, and its levels (finest first)."""

    signal: Signal
    samples: int
    levels: tuple[Level, ...]


@dataclass(frozen=True)
class Overview:
    """A session's overview (see the module docstring)."""

    fingerprint: str
    signals: tuple[SignalOverview, ...]
    event_t: np.ndarray
    event_bits: np.ndarray


def overview_path(session_dir: Path) -> Path:
    return session_dir / OVERVIEW_DIR / OVERVIEW_FILE


def coarse_level(t: np.ndarray, y: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Per block of `block` samples its min and its max sample, in time order (the tail that
    fills no block is kept whole). NaN samples are skipped (an all-NaN block keeps its first
    sample)."""
    nb = t.size // block
    if nb == 0:
        return t, y
    yb = y[: nb * block].reshape(nb, block)
    finite = np.isfinite(yb)
    lo = np.argmin(np.where(finite, yb, np.inf), axis=1)
    hi = np.argmax(np.where(finite, yb, -np.inf), axis=1)
    base = np.arange(nb) * block
    idx = np.stack([np.minimum(lo, hi), np.maximum(lo, hi)], axis=1).reshape(-1)
    idx = idx + np.repeat(base, 2)
    idx = np.concatenate([idx, np.arange(nb * block, t.size)])
    return t[idx], y[idx]


def levels_of(t: np.ndarray, y: np.ndarray) -> tuple[Level, ...]:
    """The levels of one series (finest first): every sample when it has at most
    `RAW_SAMPLES`, then one level per block size of `BLOCKS` that holds at least one block
    (below `COARSE_BLOCK`, only one of at most `FINE_POINTS` points). Each level is built
    from the one before (a block of 512 is 8 blocks of 64)."""
    out: list[Level] = []
    if t.size <= RAW_SAMPLES:
        out.append(Level(1, t, y))
    lt, ly, prev = t, y, 1
    for block in BLOCKS:
        if t.size // block == 0:
            break
        # the previous level's points: 2 per block of `prev` samples, so block/prev blocks
        # of it are 2*block/prev points (the first level is built from the samples)
        step = block if prev == 1 else 2 * block // prev
        lt, ly = coarse_level(lt, ly, step)
        if block >= COARSE_BLOCK or lt.size <= FINE_POINTS:
            out.append(Level(block, lt, ly))
        prev = block
    return tuple(out)


def session_fingerprint(session: Session) -> str:
    """A digest of what the overview is built from: the format version, the manifest and
    every stream file (names, sizes, modification times; a missing one counts as such)."""
    h = hashlib.sha256(
        f"overview v{OVERVIEW_VERSION} {BLOCKS} {FINE_POINTS} {RAW_SAMPLES}".encode()
    )
    files = [MANIFEST_NAME, *(info.file for info in session.manifest.streams.values())]
    for name in files:
        try:
            st = (session.path / name).stat()
            h.update(f"{name}:{st.st_size}:{st.st_mtime_ns};".encode())
        except OSError:
            h.update(f"{name}:missing;".encode())
    return h.hexdigest()[:24]


def build_overview(
    session: Session, values: dict[Signal, tuple[np.ndarray, np.ndarray]] | None = None
) -> Overview:
    """The overview of a session, from `values` (each signal's full samples, as
    `signal_values` gives them) or read from its streams. Raises SessionError if a stream
    cannot be read."""
    fp = session_fingerprint(session)  # before reading: a change while reading shows next time
    out = []
    read: dict[tuple[str, str], np.ndarray] = {}
    for sig in session_signals(session):
        have = values is not None and sig in values
        t, y = values[sig] if values is not None and have else signal_values(session, sig, read)
        out.append(SignalOverview(sig, int(t.size), levels_of(t, y)))
    et, eb = session_events(session)
    return Overview(fp, tuple(out), et, eb)


def write_overview(session_dir: Path, ov: Overview) -> Path:
    """Write the overview beside the session (`.overview/traces.arrow`), atomically.
    Raises OSError if the folder cannot be written."""
    batches: list[pa.RecordBatch] = []
    entries: list[dict[str, Any]] = []

    def add(t: np.ndarray, y: np.ndarray) -> int:
        batches.append(
            pa.RecordBatch.from_arrays(
                [pa.array(np.asarray(t, np.int64)), pa.array(np.asarray(y, np.float64))],
                schema=_SCHEMA,
            )
        )
        return len(batches) - 1

    for so in ov.signals:
        sig = so.signal
        entries.append(
            {
                "panel": sig.panel,
                "name": sig.name,
                "unit": sig.unit,
                "stream": sig.stream,
                "time_column": sig.time_column,
                "columns": list(sig.columns),
                "reduce": sig.reduce,
                "samples": so.samples,
                "levels": [[lv.block, add(lv.t, lv.y)] for lv in so.levels],
            }
        )
    events = add(ov.event_t, ov.event_bits.astype(np.float64))
    meta = {
        "version": OVERVIEW_VERSION,
        "fingerprint": ov.fingerprint,
        "signals": entries,
        "events": events,
    }
    schema = _SCHEMA.with_metadata({_META_KEY: json.dumps(meta).encode()})
    path = overview_path(session_dir)
    path.parent.mkdir(exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{OVERVIEW_FILE}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            with pa.ipc.new_file(f, schema) as w:
                for b in batches:
                    w.write_batch(b)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # readable as the stream files are (mkstemp makes it private)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def read_overview(session: Session) -> Overview | None:
    """The overview kept beside the session, memory-mapped; None when there is none, or it
    is of another version, built from other files, or unreadable (then it is rebuilt)."""
    path = overview_path(session.path)
    if not path.is_file():
        return None
    try:
        with pa.memory_map(str(path)) as mm:
            reader = pa.ipc.open_file(mm.read_buffer())
        meta = json.loads((reader.schema.metadata or {})[_META_KEY])
        if meta.get("version") != OVERVIEW_VERSION:
            return None
        if meta.get("fingerprint") != session_fingerprint(session):
            return None

        def arrays(i: int) -> tuple[np.ndarray, np.ndarray]:
            b = reader.get_batch(int(i))
            return b.column(0).to_numpy(), b.column(1).to_numpy()

        signals = []
        for e in meta["signals"]:
            sig = Signal(
                e["panel"],
                e["name"],
                e["unit"],
                e["stream"],
                e["time_column"],
                tuple(e["columns"]),
                e["reduce"],
            )
            levels = tuple(Level(int(block), *arrays(i)) for block, i in e["levels"])
            signals.append(SignalOverview(sig, int(e["samples"]), levels))
        et, eb = arrays(meta["events"])
    except (OSError, pa.ArrowException, ValueError, KeyError, TypeError, IndexError) as exc:
        log.warning("ignoring the unreadable overview %s (%s); it is rebuilt", path, exc)
        return None
    return Overview(meta["fingerprint"], tuple(signals), et, eb.astype(np.int64))


def ensure_overview(session: Session) -> Overview:
    """The session's overview: the one kept beside it if current, else built and written
    there (a folder that cannot be written is logged, and the overview still returned).
    Raises SessionError if a stream cannot be read."""
    ov = read_overview(session)
    if ov is not None:
        return ov
    ov = build_overview(session)
    save_overview(session, ov)
    return ov


def save_overview(session: Session, ov: Overview) -> None:
    """`write_overview`, logging (not raising) a folder that cannot be written."""
    try:
        write_overview(session.path, ov)
    except OSError as exc:
        log.warning(
            "cannot keep the overview of %s (%s): it is rebuilt each time the session is "
            "opened; make the session folder writable to keep it",
            session.path,
            exc,
        )

