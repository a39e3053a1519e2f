"""The recorder process: every message of every topic into an append-only session bundle.

One Arrow IPC stream file per topic (`<topic>.arrows`), written in small record batches
(every `batch_s`) and flushed each time, so `kill -9` loses at most the last unflushed batch
and never the file: pyarrow (or any Arrow reader) opens what is there without our code.
Loss is counted from sequence numbers as messages arrive, and stored in the manifest.
"""

from __future__ import annotations

import hashlib
import struct
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import zmq
from pydantic import BaseModel

from haptics.control import ControlServer
from haptics.errors import RecorderError
from haptics.manifest import Manifest, StreamInfo, write_manifest
from haptics.messages import LAYOUTS, Layout
from haptics.process import child_setup, keep_off_loop_cpu
from haptics.transport import TOPICS, SeqTracker, subscriber

_SEQ = struct.Struct("<Q")


class RecorderConfig(BaseModel):
    endpoints: dict[str, str]
    session_dir: Path
    manifest: Manifest
    batch_s: float = 0.1
    drain_quiet_s: float = 0.3
    cpus: set[int] | None = None  # CPUs to stay on (off the loop's CPU)


def arrow_schema(layout: Layout) -> pa.Schema:
    """The Arrow schema of a layout's recorded columns (the kind/version header is dropped)."""
    return pa.schema([(n, pa.from_numpy_dtype(layout.dtype[n])) for n in layout.names[2:]])


def to_record_batch(layout: Layout, payloads: list[bytes]) -> tuple[pa.RecordBatch, int]:
    """Decode raw messages into an Arrow record batch; returns (batch, rejected count)."""
    arr = layout.to_array(payloads)
    cols = [pa.array(np.ascontiguousarray(arr[n])) for n in layout.names[2:]]
    return pa.RecordBatch.from_arrays(cols, schema=arrow_schema(layout)), len(payloads) - len(arr)


class StreamWriter:
    """One topic's Arrow IPC stream file, append-only, flushed per batch."""

    def __init__(self, path: Path, layout: Layout) -> None:
        self.path, self.layout = path, layout
        self.sink = pa.OSFile(str(path), "wb")
        self.writer = pa.ipc.new_stream(self.sink, arrow_schema(layout))
        self.pending: list[bytes] = []
        self.tracker = SeqTracker()
        self.bad = 0

    def add(self, payload: bytes) -> None:
        self.pending.append(payload)
        if len(payload) >= 10:
            self.tracker.update(_SEQ.unpack_from(payload, 2)[0])

    def flush(self) -> None:
        """Write what is pending as one record batch and push it to the OS.

        Raises RecorderError when the disk refuses (e.g. full); nothing already written is lost.
        """
        if not self.pending:
            return
        batch, rejected = to_record_batch(self.layout, self.pending)
        self.bad += rejected
        self.pending = []
        try:
            self.writer.write_batch(batch)
            self.sink.flush()
        except OSError as exc:
            raise RecorderError(f"cannot write {self.path.name}: {exc}") from exc

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.writer.close()
            self.sink.close()

    def info(self) -> StreamInfo:
        t = self.tracker
        return StreamInfo(
            file=self.path.name,
            layout=self.layout.name,
            layout_version=self.layout.version,
            received=t.received,
            gaps=t.gaps,
            reordered=t.reordered,
            bad_messages=self.bad,
            first_seq=t.first,
            last_seq=t.last,
        )


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def run_recorder_process(cfg: RecorderConfig) -> None:
    """Entry point of the recorder process (multiprocessing target)."""
    stop = child_setup("haptics-record")
    keep_off_loop_cpu(cfg.cpus)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    ctl = ControlServer(ctx, cfg.endpoints["ctl-recorder"])
    cfg.session_dir.mkdir(parents=True, exist_ok=True)
    manifest = cfg.manifest
    socks = {topic: subscriber(ctx, cfg.endpoints[topic], deep=True) for topic in TOPICS}
    writers = {
        topic: StreamWriter(cfg.session_dir / f"{topic}.arrows", LAYOUTS[topic]) for topic in TOPICS
    }
    for topic, w in writers.items():
        manifest.streams[topic] = w.info()
    write_manifest(cfg.session_dir, manifest)
    poller = zmq.Poller()
    for s in socks.values():
        poller.register(s, zmq.POLLIN)
    poller.register(ctl.sock, zmq.POLLIN)
    by_sock = {s: writers[t] for t, s in socks.items()}
    next_flush = time.monotonic() + cfg.batch_s
    final: dict[str, Any] = {}
    error: str | None = None
    try:
        while not stop.set:
            ready = dict(poller.poll(20))
            for sock, w in by_sock.items():
                if sock in ready:
                    _drain_into(sock, w)
            if ctl.sock in ready:
                req = ctl.poll(0)
                if req is not None:
                    if req["cmd"] == "stop":
                        final = req
                        break
                    _answer(req, ctl, manifest, writers, cfg.session_dir)
            if time.monotonic() >= next_flush and error is None:
                next_flush = time.monotonic() + cfg.batch_s
                try:
                    for w in writers.values():
                        w.flush()
                except RecorderError as exc:
                    error = str(exc)
                    manifest.notes.append(f"recording stopped early: {error}")
        # drain until every topic has been quiet for drain_quiet_s
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < cfg.drain_quiet_s:
            ready = dict(poller.poll(20))
            got = False
            for sock, w in by_sock.items():
                if sock in ready:
                    got = _drain_into(sock, w) > 0 or got
            if got:
                quiet_since = time.monotonic()
    finally:
        _finish(cfg, manifest, writers, final, error, ctl)
        for s in socks.values():
            s.close(0)
        ctl.close()
        ctx.term()


def _drain_into(sock: zmq.Socket[bytes], w: StreamWriter) -> int:
    n = 0
    while True:
        try:
            w.add(sock.recv(zmq.NOBLOCK))
        except zmq.Again:
            return n
        n += 1


def _answer(
    req: dict[str, Any],
    ctl: ControlServer,
    manifest: Manifest,
    writers: dict[str, StreamWriter],
    session_dir: Path,
) -> None:
    cmd = req["cmd"]
    if cmd == "ping":
        ctl.reply({"ok": True})
    elif cmd == "annotate":
        for key in ("device", "scene", "loop", "clock"):
            if key in req:
                getattr(manifest, key).update(req[key])
        if "provenance" in req:
            manifest.provenance = str(req["provenance"])
        write_manifest(session_dir, manifest)
        ctl.reply({"ok": True})
    elif cmd == "stats":
        ctl.reply({"ok": True, "streams": {t: w.info().model_dump() for t, w in writers.items()}})
    else:
        ctl.reply({"ok": False, "error": f"unknown command '{cmd}'"})


def _finish(
    cfg: RecorderConfig,
    manifest: Manifest,
    writers: dict[str, StreamWriter],
    final: dict[str, Any],
    error: str | None,
    ctl: ControlServer,
) -> None:
    import datetime as dt

    for w in writers.values():
        try:
            w.close()
        except (RecorderError, OSError) as exc:
            manifest.notes.append(f"closing {w.path.name}: {exc}")
    published: dict[str, int] = final.get("published", {})
    for topic, w in writers.items():
        info = w.info()
        info.published = published.get(topic)
        info.sha256 = sha256(w.path)
        manifest.streams[topic] = info
    manifest.status = "complete"
    manifest.ended_utc = dt.datetime.now(dt.UTC).isoformat()
    manifest.stop_reason = error or str(final.get("reason", "stopped"))
    write_manifest(cfg.session_dir, manifest)
    if final:
        ctl.reply(
            {
                "ok": True,
                "session": str(cfg.session_dir),
                "streams": {t: s.model_dump() for t, s in manifest.streams.items()},
            }
        )
