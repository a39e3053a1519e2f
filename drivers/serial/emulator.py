"""Start the firmware emulator (firmware/build/haptics-emulator) as a child process.

The emulator is the firmware core built for the host on a simulated paddle (kind "paddle")
or a simulated taxel matrix (kind "taxel"); it opens a pseudo-terminal and prints its path
as the first line on stdout. `start_emulator` builds it
with `make -C firmware emulator` when the binary is missing or older than its sources,
starts it and returns an `EmulatorProcess` whose `.port` the serial driver opens.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from haptics.errors import DeviceError

KINDS = ("paddle", "taxel")
DEFAULT_RATE_HZ = {"paddle": 1000.0, "taxel": 200.0}  # STATE rate; taxel frame rate


def firmware_dir() -> Path:
    """The firmware source tree: $HAPTICS_FIRMWARE_DIR, else the checkout this file is in."""
    env = os.environ.get("HAPTICS_FIRMWARE_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "firmware"


def emulator_binary() -> Path:
    return firmware_dir() / "build" / "haptics-emulator"


def registry_dir() -> Path:
    """Where running emulators announce themselves (one JSON file per process)."""
    env = os.environ.get("HAPTICS_EMULATOR_DIR")
    return Path(env) if env else Path(f"/tmp/haptics-emulators-{os.getuid()}")


def _sources(fw: Path) -> list[Path]:
    out = [fw / "Makefile"]
    for sub in ("core", "hal", "emulator"):
        out += [f for f in (fw / sub).glob("*") if f.suffix in (".c", ".h")]
    return out


def ensure_built() -> Path:
    """The emulator binary, built first if missing or older than its sources.

    Raises DeviceError when the firmware tree is missing or the build fails.
    """
    fw = firmware_dir()
    binary = emulator_binary()
    if not (fw / "Makefile").is_file():
        raise DeviceError(f"emulator: no firmware sources at {fw}; set HAPTICS_FIRMWARE_DIR to the "
                          "firmware folder of a haptics checkout")
    newest = max(f.stat().st_mtime for f in _sources(fw))
    if binary.is_file() and binary.stat().st_mtime >= newest:
        return binary
    make = shutil.which("make")
    if make is None:
        raise DeviceError("emulator: `make` and a C compiler are needed to build the emulator "
                          "(apt-get install build-essential)")
    (fw / "build").mkdir(exist_ok=True)
    with open(fw / "build" / ".build-lock", "w") as lock:  # one build at a time
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = subprocess.run([make, "-C", str(fw), "emulator"], capture_output=True, text=True,
                              timeout=300, check=False)
    if proc.returncode != 0:
        raise DeviceError(f"emulator: `make -C {fw} emulator` failed:\n"
                          f"{(proc.stdout + proc.stderr)[-3000:]}")
    return binary


class EmulatorProcess:
    """A running emulator: `.port` (its pty, or the stable link), `.stop()`, a context manager."""

    def __init__(self, proc: subprocess.Popen[bytes], pty_path: str, link: str | None,
                 stderr_path: Path, args: list[str]) -> None:
        self.proc = proc
        self.pty_path = pty_path
        self.link = link
        self.stderr_path = stderr_path
        self.args = args

    @property
    def port(self) -> str:
        """What a driver should open: the stable link when there is one, else the pty."""
        return self.link or self.pty_path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout_s: float = 3.0) -> int:
        """SIGTERM, wait, SIGKILL if it must. Returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout_s)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return int(self.proc.returncode)

    def kill(self) -> None:
        """SIGKILL, as a crash or an unplug would: no cleanup on the emulator's side."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(3.0)

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"EmulatorProcess(pid={self.pid}, port={self.port!r})"


def start_emulator(kind: str = "paddle", rate_hz: float | None = None, watchdog_ms: int = 100,
                   *, rows: int | None = None, cols: int | None = None,
                   pitch_mm: float | None = None, inject_bad_every: int | None = None,
                   link: str | os.PathLike[str] | None = None,
                   command_log: str | os.PathLike[str] | None = None,
                   protocol_version: int | None = None, schema_hash: int | None = None,
                   tick_sync: bool = True, stall_ms: int | None = None, realtime: bool = False,
                   extra_args: tuple[str, ...] = (), startup_timeout_s: float = 10.0,
                   ) -> EmulatorProcess:
    """Build if needed, start the emulator, and wait for its pty path.

    `link` makes a stable symlink to the pty (reconnect tests; like /dev/serial/by-id);
    `command_log` records every COMMAND the firmware applied; `protocol_version` and
    `schema_hash` make it claim another firmware (mismatch tests); `realtime` asks for
    SCHED_FIFO threads (steadier ticks, but on few cores it takes CPU from the host side).
    `rate_hz` defaults to the kind's (paddle 1000, taxel 200). Taxel boards only: `rows`,
    `cols` (default 16 × 16), `pitch_mm` (2) and the test hook `inject_bad_every` (after
    every Nth frame one bad frame in turn: garbage, a chunk one byte short, a chunk of
    impossible geometry).
    The emulator stops by itself if this process dies without stopping it.
    Raises DeviceError when it cannot be built or does not start.
    """
    if kind not in KINDS:
        raise DeviceError(f"emulator: unknown kind '{kind}'; available: {', '.join(KINDS)}")
    taxel_only = {"rows": rows, "cols": cols, "pitch_mm": pitch_mm,
                  "inject_bad_every": inject_bad_every}
    if kind != "taxel" and any(v is not None for v in taxel_only.values()):
        raise DeviceError(f"emulator: rows, cols, pitch_mm and inject_bad_every are for a taxel "
                          f"board, not a {kind}")
    rate = DEFAULT_RATE_HZ[kind] if rate_hz is None else rate_hz
    binary = ensure_built()
    args = [str(binary), "--kind", kind, "--rate", f"{rate:g}", "--watchdog-ms",
            str(int(watchdog_ms)), "--exit-with-parent"]
    for name, value in taxel_only.items():
        if value is not None:
            args += ["--" + name.replace("_", "-"), f"{value:g}"]
    if link is not None:
        args += ["--link", str(link)]
    if command_log is not None:
        args += ["--command-log", str(command_log)]
    if protocol_version is not None:
        args += ["--protocol-version", str(protocol_version)]
    if schema_hash is not None:
        args += ["--schema-hash", f"{schema_hash:08x}"]
    if not tick_sync:
        args.append("--no-tick-sync")
    if stall_ms is not None:
        args += ["--stall-ms", str(stall_ms)]
    if realtime:
        args.append("--realtime")
    args += list(extra_args)
    fd, name = tempfile.mkstemp(prefix="haptics-emulator-", suffix=".log")
    stderr_path = Path(name)
    try:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=fd, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    finally:
        os.close(fd)
    assert proc.stdout is not None
    line = b""
    deadline = time.monotonic() + startup_timeout_s
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, left))
        chunk = os.read(proc.stdout.fileno(), 256) if ready else b""
        if not chunk:
            err = stderr_path.read_text(errors="replace")[-2000:]
            proc.kill()
            proc.wait()
            raise DeviceError(f"emulator: {' '.join(args)} did not report its port "
                              f"(exit status {proc.returncode}): {err.strip() or 'no output'}")
        line += chunk
    pty_path = line.split(b"\n", 1)[0].decode().strip()
    return EmulatorProcess(proc, pty_path, str(link) if link is not None else None, stderr_path,
                           args)


def running_emulators() -> list[dict[str, Any]]:
    """Emulators announced in the registry folder whose process is alive."""
    out: list[dict[str, Any]] = []
    folder = registry_dir()
    if not folder.is_dir():
        return out
    for f in sorted(folder.glob("*.json")):
        try:
            entry = json.loads(f.read_text())
            pid = int(entry["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue  # stale: the process is gone
        except PermissionError:
            pass  # alive, owned by another user: still a running emulator
        if os.path.exists(str(entry.get("port", ""))):
            out.append(entry)
    return out
