"""What every session process does first: signals, parent-death, and a stop flag.

Children ignore Ctrl-C (the terminal sends it to the whole process group; the CLI
orchestrates an orderly stop instead) and treat SIGTERM as "stop cleanly, force to zero".
If the CLI dies, Linux sends SIGTERM to its children (PR_SET_PDEATHSIG): no orphans.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal
import sys
from types import FrameType
from typing import Any

_PR_SET_PDEATHSIG = 1


class StopFlag:
    """Set by SIGTERM; polled by the process's main loop."""

    def __init__(self) -> None:
        self.set = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.set = True


def child_setup(title: str) -> StopFlag:
    """Prepare a session child process; returns the flag SIGTERM sets."""
    stop = StopFlag()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, stop)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):  # best effort: no libc → no parent-death signal
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
            libc.prctl(15, title.encode()[:15], 0, 0, 0)  # PR_SET_NAME: shows in top/ps
    return stop


def quiet_gc() -> None:
    """Freeze what exists now and switch the cyclic collector off for the hot path."""
    gc.collect()
    gc.freeze()
    gc.disable()


def cpu_plan() -> tuple[int | None, set[int] | None]:
    """Which CPU the loop gets to itself, and which CPUs everything else shares.

    On a machine with 2+ usable CPUs the loop takes the last one and the rest share the
    others; on one CPU nothing is pinned.
    """
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return None, None
    if len(cpus) < 2:
        return None, None
    return cpus[-1], set(cpus[:-1])


def keep_off_loop_cpu(cpus: set[int] | None) -> str | None:
    """Best-effort: keep this process on `cpus` (not the loop's). Message when refused."""
    if not cpus:
        return None
    try:
        os.sched_setaffinity(0, cpus)
        return None
    except (AttributeError, OSError) as exc:
        return f"could not set CPU affinity {sorted(cpus)}: {exc}"


def realtime_permitted(priority: int) -> bool:
    """Whether this process may use SCHED_FIFO at `priority` (root, or RLIMIT_RTPRIO)."""
    try:
        import resource

        return os.geteuid() == 0 or resource.getrlimit(resource.RLIMIT_RTPRIO)[0] >= priority
    except (ImportError, OSError, AttributeError):
        return False


def zmq_context(io_priority: int | None = None, io_cpus: set[int] | None = None) -> Any:
    """A ZeroMQ context whose I/O thread runs SCHED_FIFO at `io_priority` on `io_cpus`.

    A real-time I/O thread above the process's own priority moves messages as soon as they
    arrive instead of waiting for a busy core. libzmq aborts if the OS refuses the policy,
    so it is only requested where `realtime_permitted`; otherwise a plain context.
    """
    import zmq

    ctx = zmq.Context()
    if io_priority is not None and realtime_permitted(io_priority):
        ctx.set(zmq.THREAD_SCHED_POLICY, os.SCHED_FIFO)
        ctx.set(zmq.THREAD_PRIORITY, io_priority)
        for cpu in sorted(io_cpus or ()):
            ctx.set(zmq.THREAD_AFFINITY_CPU_ADD, cpu)
    return ctx


def make_realtime(priority: int) -> str | None:
    """Best-effort SCHED_FIFO at `priority`; returns a message saying why not, if refused.

    Threads created afterwards inherit the policy: create ZeroMQ contexts before calling.
    """
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
        return None
    except (AttributeError, PermissionError, OSError) as exc:
        return (
            f"real-time priority not permitted ({exc}); the loop runs at normal priority "
            "and may miss ticks under load. Run as root or grant CAP_SYS_NICE / rtprio."
        )


def pin_to_cpu(cpu: int) -> str | None:
    """Best-effort pinning of this process; returns a message when the OS refuses."""
    try:
        os.sched_setaffinity(0, {cpu})  # may widen an inherited mask: only the cpuset limits it
        return None
    except (AttributeError, OSError) as exc:
        return f"could not pin to cpu {cpu}: {exc}"
