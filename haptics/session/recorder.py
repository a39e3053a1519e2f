"""The recorder process: every message of every topic into an append-only session bundle.

One Arrow IPC stream file per topic (`<topic>.arrows`), written in small record batches
(every `batch_s`) and flushed each time, so `kill -9` loses at most the last unflushed batch
and never the file: pyarrow (or any Arrow reader) opens what is there without our code.
Loss is counted from sequence numbers as messages arrive, and stored in the manifest.

With a camera, frames arrive on the "frames" topic (deep queue) and are encoded to
`video.mp4` (H.264, fragmented MP4, see haptics.session.video) a few at a time between drains, under
a time budget, so the 1 kHz topics are never left waiting; `frames.arrows` gets one row per
encoded frame (seq, capture time, source tick, pts). The manifest gets a `video` entry
(`VideoInfo`: frames, fps, codec, hash at close) beside the standard fields.

A write that fails (disk full: ENOSPC, EFBIG, EDQUOT; or any other OSError) stops the
recording cleanly and only the recording: every stream file is cut back to its last
complete batch and closed, the video keeps its complete fragments, the manifest records
`stop_reason` "disk full: …" (a small space reserve taken at start is released for it; if
even that write fails the previous manifest stays valid), and the "stats" and "stop"
replies say what happened. The recorder keeps draining (and discarding) until it is
stopped, so no publisher ever waits for it and the force path runs on.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import resource
import signal
import struct
import time
from collections import deque
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import zmq
from pydantic import BaseModel, Field, ValidationError

from haptics.errors import MessageError, RecorderError, SessionError
from haptics.process import child_setup, keep_off_loop_cpu
from haptics.session.camera import frame_hwm, split_frame
from haptics.session.clock import clock_mapping, live_samples
from haptics.session.manifest import (
    MANIFEST_NAME,
    Manifest,
    SourceCounts,
    StreamInfo,
    write_manifest,
)
from haptics.session.streams import EOS, arrow_schema, file_sha256, read_stream
from haptics.session.video import FRAME_INDEX, FRAMES_FILE, VIDEO_FILE, VideoWriter, pts_for
from haptics.wire.control import RECORDER_COMMANDS, ControlServer
from haptics.wire.messages import LAYOUTS, Layout
from haptics.wire.sequence import SeqTracker
from haptics.wire.transport import TOPICS, subscriber

_SEQ = struct.Struct("<Q")
_DISK_FULL_ERRNOS: Final = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
RESERVE_NAME: Final = ".space-reserve"


class VideoSettings(BaseModel):
    """How the recorder encodes the frames topic."""

    width: int = Field(320, gt=0)
    height: int = Field(240, gt=0)
    fps: float = Field(30.0, gt=0)
    keyframe_s: float = Field(
        1.0, gt=0, description="a keyframe (and a fragment) at least this often"
    )
    preset: str = "ultrafast"
    encode_budget_ms: float = Field(8.0, gt=0, description="encoding time per poll iteration")
    camera: dict[str, Any] = Field(
        default_factory=dict, description="the camera's pose and lens, kept in the manifest"
    )


class DeclaredStream(BaseModel):
    """A stream a device declared, to record beside the core's topics: where it is
    published, its layout (`Layout.to_spec`), its nominal rate and who publishes it."""

    endpoint: str
    spec: dict[str, Any]
    rate_hz: float | None = None
    source: str = ""


class RecorderConfig(BaseModel):
    endpoints: dict[str, str]
    streams: dict[str, DeclaredStream] = Field(
        default_factory=dict, description="declared streams by name, each to <name>.arrows"
    )
    session_dir: Path
    manifest: Manifest
    batch_s: float = 0.25  # kill -9 loses at most this much; an hour loads in ~1 s
    drain_quiet_s: float = 0.3
    cpus: set[int] | None = None  # CPUs to stay on (off the loop's CPU)
    video: VideoSettings | None = None  # record the "frames" topic (camera on)
    reserve_bytes: int = Field(
        64 * 1024, ge=0, description="space held back so the final manifest fits on a full disk"
    )


def to_record_batch(layout: Layout, payloads: list[bytes]) -> tuple[pa.RecordBatch, int]:
    """Decode raw messages into an Arrow record batch; returns (batch, rejected count)."""
    arr = layout.to_array(payloads)
    cols: list[pa.Array] = []
    for n in layout.names[2:]:
        values = np.ascontiguousarray(arr[n])
        if values.ndim > 1:  # an array field: one fixed-size list per row, flattened
            width = int(np.prod(values.shape[1:]))
            cols.append(
                pa.FixedSizeListArray.from_arrays(pa.array(values.reshape(-1)), width)
            )
        else:
            cols.append(pa.array(values))
    return pa.RecordBatch.from_arrays(cols, schema=arrow_schema(layout)), len(payloads) - len(arr)


def is_disk_full(exc: BaseException) -> bool:
    """Whether a write error (or what it was raised from) means the disk or a size limit is
    full (ENOSPC, EFBIG, EDQUOT)."""
    e: BaseException | None = exc
    while e is not None:
        if isinstance(e, OSError) and e.errno in _DISK_FULL_ERRNOS:
            return True
        e = e.__cause__
    return False


class StreamWriter:
    """One topic's Arrow IPC stream file, append-only, flushed per batch.

    The schema goes to disk at once (with an empty first batch), and the file size after
    each good batch is kept, so `abort` can cut a half-written batch off and leave a file
    that ends cleanly. Raises RecorderError (OSError chained) when the file cannot be created.
    """

    def __init__(self, path: Path, layout: Layout) -> None:
        self.path, self.layout = path, layout
        self.pending: list[bytes] = []
        self.tracker = SeqTracker()
        self.bad = 0
        self.failed = False
        self.closed = False
        self.rows = 0  # rows on disk
        self.time_col = next((c for c in ("host_time_ns", "wake_ns") if c in layout.names), None)
        self.first_time_ns: int | None = None
        self.last_time_ns: int | None = None
        try:
            self.sink = pa.OSFile(str(path), "wb")
            self.writer = pa.ipc.new_stream(self.sink, arrow_schema(layout))
            self.writer.write_batch(to_record_batch(layout, [])[0])
            self.good_bytes = int(self.sink.tell())
        except OSError as exc:
            raise RecorderError(f"cannot create {path}: {exc}") from exc

    def add(self, payload: bytes) -> None:
        if self.failed or self.closed:
            return
        self.pending.append(payload)
        layout = self.layout
        if (
            len(payload) == layout.size
            and payload[0] == layout.kind
            and payload[1] == layout.version
        ):
            self.tracker.update(_SEQ.unpack_from(payload, 2)[0])  # others: counted bad at flush

    def flush(self) -> None:
        """Write what is pending as one record batch and push it to the OS.

        Raises RecorderError (OSError chained) when the disk refuses (e.g. full); nothing
        already written is lost.
        """
        if not self.pending or self.failed or self.closed:
            return
        batch, rejected = to_record_batch(self.layout, self.pending)
        self.bad += rejected
        self.pending = []
        try:
            self.writer.write_batch(batch)
            self.sink.flush()
        except OSError as exc:
            self.failed = True
            raise RecorderError(f"cannot write {self.path}: {exc}") from exc
        self.good_bytes = int(self.sink.tell())
        self.rows += batch.num_rows
        if self.time_col and batch.num_rows:
            col = batch.column(self.time_col)
            if self.first_time_ns is None:
                self.first_time_ns = int(col[0].as_py())
            self.last_time_ns = int(col[-1].as_py())

    def close(self) -> None:
        """Flush, write the end-of-stream marker, close. Raises RecorderError on a write
        failure (then `abort` leaves the file readable)."""
        if self.closed or self.failed:
            return
        self.flush()
        try:
            self.writer.close()
            self.sink.close()
        except OSError as exc:
            self.failed = True
            raise RecorderError(f"cannot close {self.path}: {exc}") from exc
        self.closed = True

    def abort(self) -> None:
        """Stop writing and leave a clean file: cut it back to the last complete batch and
        end it with the end-of-stream marker if there is room. Never raises."""
        if self.closed:
            return
        self.closed, self.failed, self.pending = True, True, []
        for close in (self.writer.close, self.sink.close):
            with contextlib.suppress(OSError, pa.ArrowException):
                close()
        with contextlib.suppress(OSError):
            os.truncate(self.path, self.good_bytes)
            with open(self.path, "ab") as f:  # no room for 8 bytes: still readable without
                f.write(EOS)

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


sha256 = file_sha256  # the name this module has always exported


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)  # every thread: ZeroMQ I/O, x264
    return ru.ru_utime + ru.ru_stime


class Recording:
    """The files of one session and what happened to them; the recorder process drives it.

    Raises RecorderError from the constructor when the session cannot be created at all.
    """

    def __init__(self, cfg: RecorderConfig) -> None:
        self.cfg = cfg
        self.dir = cfg.session_dir
        self.manifest = Manifest.model_validate(cfg.manifest.model_dump())
        self.error: str | None = None
        self.error_path: str | None = None
        self.disk_full = False
        self.frames_pending: deque[bytes] = deque()
        self.frames_first_ns: int | None = None
        self.last_pts: int | None = None
        self.cpu0, self.wall0 = _cpu_s(), time.monotonic()
        self.reserve = self.dir / RESERVE_NAME
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            if cfg.reserve_bytes:
                with open(self.reserve, "wb") as f:
                    f.write(b"\0" * cfg.reserve_bytes)
            self.writers = {t: StreamWriter(self.dir / f"{t}.arrows", LAYOUTS[t]) for t in TOPICS}
            for name, decl in cfg.streams.items():
                self.writers[name] = StreamWriter(
                    self.dir / f"{name}.arrows", Layout.from_spec(decl.spec)
                )
            self.video: VideoWriter | None = None
            if cfg.video is not None:
                v = cfg.video
                self.writers["frames"] = StreamWriter(self.dir / FRAMES_FILE, FRAME_INDEX)
                self.video = VideoWriter(
                    self.dir / VIDEO_FILE, v.width, v.height, v.fps, v.keyframe_s, v.preset
                )
                self.video.camera = dict(v.camera)
                self.manifest.video = self.video.info().model_dump()
            for topic, w in self.writers.items():
                self.manifest.streams[topic] = self._info(topic, w)
            write_manifest(self.dir, self.manifest)
        except OSError as exc:
            raise RecorderError(
                f"cannot create the session at {self.dir}: {exc}; free space or record "
                "elsewhere (--record DIR)"
            ) from exc

    def _info(self, topic: str, w: StreamWriter) -> StreamInfo:
        """A writer's manifest entry; a declared stream's keeps its layout spec and source."""
        info = w.info()
        decl = self.cfg.streams.get(topic)
        if decl is not None:
            info.spec, info.source, info.nominal_rate_hz = decl.spec, decl.source, decl.rate_hz
        return info

    # -- while recording ---------------------------------------------------------------
    @property
    def writing(self) -> bool:
        return self.error is None

    def flush(self) -> None:
        """Flush every stream file; a failure stops the recording (see `fail`)."""
        if not self.writing:
            return
        for w in self.writers.values():
            try:
                w.flush()
            except RecorderError as exc:
                self.fail(exc, w.path)
                return

    def add_frame(self, msg: bytes) -> None:
        if self.writing and self.video is not None:
            self.frames_pending.append(msg)

    def encode_frames(self, budget_s: float | None) -> int:
        """Encode waiting frames until `budget_s` is spent (None: all); returns how many."""
        if self.video is None:
            return 0
        video, index = self.video, self.writers["frames"]
        give_up = None if budget_s is None else time.perf_counter() + budget_s
        n = 0
        while self.frames_pending and self.writing:
            if give_up is not None and n and time.perf_counter() >= give_up:
                break
            msg = self.frames_pending.popleft()
            try:
                seq, t_ns, tick, w, h, rgb = split_frame(msg)
            except MessageError:
                index.bad += 1
                continue
            if (w, h) != (video.width, video.height):
                index.bad += 1
                continue
            if self.frames_first_ns is None:
                self.frames_first_ns = t_ns
            pts = pts_for(t_ns, self.frames_first_ns, float(video.fps), self.last_pts)
            try:
                video.add(np.frombuffer(rgb, np.uint8), pts)
            except RecorderError as exc:
                self.fail(exc, video.path)
                break
            self.last_pts = pts
            index.add(FRAME_INDEX.pack(seq, t_ns, tick, pts))
            n += 1
        return n

    def fail(self, exc: BaseException, path: Path) -> None:
        """Stop recording after a write failure and close every file so it stays readable;
        the manifest records why (kept as it was if even that cannot be written)."""
        if self.error is not None:
            return
        self.disk_full = is_disk_full(exc)
        self.error = f"{'disk full' if self.disk_full else 'write failed'}: {exc}"
        self.error_path = str(path)
        self.frames_pending.clear()
        for w in self.writers.values():
            w.abort()
        if self.video is not None:
            self.video.error = self.error
            self.video.abort()
        self._release_reserve()
        self.manifest.notes.append(
            f"recording stopped at {dt.datetime.now(dt.UTC).isoformat()}: {self.error}; every "
            f"file holds what was written before (about {self.readable_s():.1f} s)"
        )
        self._close_manifest(self.error)

    # -- reports -----------------------------------------------------------------------
    def readable_s(self) -> float:
        """Seconds of data on disk (state stream, else telemetry)."""
        for topic in ("state", "telemetry"):
            w = self.writers.get(topic)
            if w is not None and w.first_time_ns is not None and w.last_time_ns is not None:
                return (w.last_time_ns - w.first_time_ns) / 1e9
        return 0.0

    def report(self) -> dict[str, Any]:
        """What the "stats" and "stop" replies carry besides the streams."""
        wall = time.monotonic() - self.wall0
        out: dict[str, Any] = {
            "recording": self.writing,
            "error": self.error,
            "disk_full": self.disk_full,
            "error_path": self.error_path,
            "readable_s": round(self.readable_s(), 3),
            "cpu_share": round((_cpu_s() - self.cpu0) / wall, 4) if wall > 0 else 0.0,
        }
        if self.video is not None:
            video = self.manifest.video if self.video.closed else None
            out["video"] = video or self.video.info().model_dump()
            out["frames_pending"] = len(self.frames_pending)
        return out

    def stream_infos(self) -> dict[str, dict[str, Any]]:
        return {t: self._info(t, w).model_dump() for t, w in self.writers.items()}

    # -- end ---------------------------------------------------------------------------
    def finish(self, final: dict[str, Any]) -> None:
        """Encode what is left, close every file, hash it, write the final manifest."""
        self.encode_frames(None)
        if self.writing:
            for w in self.writers.values():
                try:
                    w.close()
                except RecorderError as exc:
                    self.fail(exc, w.path)
                    break
        if self.writing and self.video is not None:
            try:
                self.video.close()
            except RecorderError as exc:
                self.fail(exc, self.video.path)
        for w in self.writers.values():
            w.abort()  # no-op for a closed file; releases anything left open
        self._release_reserve()
        published: dict[str, int] = final.get("published", {})
        counts: dict[str, Any] = final.get("source_counts", {})
        for topic in self.writers:
            self.manifest.streams[topic].published = published.get(topic)
            if topic in counts:
                try:
                    self.manifest.streams[topic].source_counts = SourceCounts.model_validate(
                        counts[topic]
                    )
                except ValidationError as exc:  # the session closes all the same
                    self.manifest.notes.append(f"{topic}: its publisher's counts unusable: {exc}")
        self._close_manifest(self.error or str(final.get("reason", "stopped")))

    def _close_manifest(self, reason: str) -> None:
        m = self.manifest
        for topic, w in self.writers.items():
            info = self._info(topic, w)
            old = m.streams.get(topic)
            if old is not None:
                info.published, info.source_counts = old.published, old.source_counts
            info.recorded = w.rows
            with contextlib.suppress(OSError):
                info.sha256 = sha256(w.path)
            m.streams[topic] = info
        if self.video is not None:
            vinfo = self.video.info()
            with contextlib.suppress(OSError):
                vinfo.sha256 = sha256(self.video.path)
            m.video = vinfo.model_dump()
        m.clock["device_to_host"] = self.clock_mapping()
        m.status = "complete"
        m.ended_utc = m.ended_utc or dt.datetime.now(dt.UTC).isoformat()
        m.stop_reason = reason
        self.save_manifest()

    def clock_mapping(self) -> dict[str, Any]:
        """The device→host clock fit over the recorded state stream (offset, drift, residual)."""
        try:
            table, _ = read_stream(self.cfg.session_dir / "state.arrows")
        except (RecorderError, OSError, SessionError) as exc:
            return {"error": str(exc)}
        sent = live_samples(table.column("status").to_numpy())
        dev = table.column("device_time_ns").to_numpy()[sent]
        host = table.column("host_time_ns").to_numpy()[sent]
        try:
            fit = clock_mapping(dev, host)
        except (ValueError, np.linalg.LinAlgError) as exc:  # e.g. a device clock that never moved
            return {"error": f"no clock fit: {exc}"}
        return {"model": "host = offset + (1 + drift) * device", **fit}

    def save_manifest(self) -> OSError | None:
        """Write the manifest atomically; the error (and the previous manifest kept) if the
        disk refuses."""
        try:
            write_manifest(self.dir, self.manifest)
            return None
        except OSError as exc:
            with contextlib.suppress(OSError):
                (self.dir / (MANIFEST_NAME + ".tmp")).unlink()
            return exc

    def _release_reserve(self) -> None:
        with contextlib.suppress(OSError):
            self.reserve.unlink()


def run_recorder_process(cfg: RecorderConfig) -> None:
    """Entry point of the recorder process (multiprocessing target).

    Raises RecorderError when the session cannot be created (e.g. no space at all).
    """
    stop = child_setup("haptics-record")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a file-size limit gives EFBIG, not death
    keep_off_loop_cpu(cfg.cpus)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    ctl = ControlServer(ctx, cfg.endpoints["ctl-recorder"], RECORDER_COMMANDS)
    socks = {topic: subscriber(ctx, cfg.endpoints[topic], deep=True) for topic in TOPICS}
    for name, decl in cfg.streams.items():
        socks[name] = subscriber(ctx, decl.endpoint, deep=True)
    frames: zmq.Socket[bytes] | None = None
    if cfg.video is not None:
        frames = subscriber(ctx, cfg.endpoints["frames"], deep=True)
        frames.setsockopt(zmq.RCVHWM, frame_hwm(cfg.video.fps))
    try:
        rec = Recording(cfg)
    except RecorderError:
        for s in socks.values():
            s.close(0)
        if frames is not None:
            frames.close(0)
        ctl.close()
        ctx.term()
        raise
    poller = zmq.Poller()
    for s in socks.values():
        poller.register(s, zmq.POLLIN)
    if frames is not None:
        poller.register(frames, zmq.POLLIN)
    poller.register(ctl.sock, zmq.POLLIN)
    by_sock = {s: rec.writers[t] for t, s in socks.items()}
    budget_s = cfg.video.encode_budget_ms / 1e3 if cfg.video is not None else 0.0
    max_pending = frame_hwm(cfg.video.fps) if cfg.video is not None else 0
    next_flush = time.monotonic() + cfg.batch_s
    final: dict[str, Any] = {}
    try:
        while not stop.set:
            ready = dict(poller.poll(0 if rec.frames_pending else 20))
            for sock, w in by_sock.items():
                if sock in ready:
                    _drain_into(sock, w)
            if frames is not None and frames in ready:
                _drain_frames(frames, rec, max_pending)
            rec.encode_frames(budget_s)
            if ctl.sock in ready:
                req = ctl.poll(0)
                if req is not None:
                    if req["cmd"] == "stop":
                        final = req
                        break
                    _answer(req, ctl, rec)
            if time.monotonic() >= next_flush:
                next_flush = time.monotonic() + cfg.batch_s
                rec.flush()
        # drain until every topic has been quiet for drain_quiet_s
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < cfg.drain_quiet_s:
            ready = dict(poller.poll(20))
            got = False
            for sock, w in by_sock.items():
                if sock in ready:
                    got = _drain_into(sock, w) > 0 or got
            if frames is not None and frames in ready:
                got = _drain_frames(frames, rec, None) > 0 or got
            rec.encode_frames(budget_s)
            if got:
                quiet_since = time.monotonic()
        if not final:  # ended by SIGTERM (the CLI died), not asked to stop
            final = {"reason": "recorder terminated by a signal before the session ended"}
    except Exception as exc:  # keep what was written, and say the recorder crashed
        final = {**final, "reason": f"recorder crashed: {type(exc).__name__}: {exc}"}
        raise
    finally:
        rec.finish(final)
        if final.get("cmd") == "stop":
            ctl.reply(
                {
                    "ok": True,
                    "session": str(cfg.session_dir),
                    "stop_reason": rec.manifest.stop_reason,
                    "streams": {t: s.model_dump() for t, s in rec.manifest.streams.items()},
                    **rec.report(),
                }
            )
        for s in socks.values():
            s.close(0)
        if frames is not None:
            frames.close(0)
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


def _drain_frames(sock: zmq.Socket[bytes], rec: Recording, max_pending: int | None) -> int:
    """Move waiting frames into the encoder's queue; beyond `max_pending` they stay in
    ZeroMQ's (bounded) queue, where an overflow shows up as frame seq gaps."""
    n = 0
    while max_pending is None or len(rec.frames_pending) < max_pending:
        try:
            rec.add_frame(sock.recv(zmq.NOBLOCK))
        except zmq.Again:
            break
        n += 1
    return n


def _answer(req: dict[str, Any], ctl: ControlServer, rec: Recording) -> None:
    cmd = req["cmd"]
    m = rec.manifest
    if cmd == "ping":
        ctl.reply({"ok": True})
    elif cmd == "annotate":
        for key in ("device", "scene", "loop", "clock"):
            if req.get(key) is not None:
                getattr(m, key).update(req[key])
        if req.get("provenance") is not None:
            m.provenance = str(req["provenance"])
        if rec.writing:
            failed = rec.save_manifest()
            if failed is not None:
                rec.fail(failed, rec.dir / MANIFEST_NAME)
        ctl.reply({"ok": True, "recording": rec.writing})
    elif cmd == "stats":
        ctl.reply({"ok": True, "streams": rec.stream_infos(), **rec.report()})
    else:
        ctl.reply({"ok": False, "error": f"unknown command '{cmd}'"})
