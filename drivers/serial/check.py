"""End-to-end test of a serial device link, and the list of ports to test.

`run_device_test` opens a device the way a session does, arms it, closes a 1 kHz loop over
it (read the newest sample, compute a force, write it, paced with absolute deadlines and a
short spin), then measures what matters for haptics: the STATE rate, command → echo round
trip, frames lost, CRC errors; and, optionally, the firmware watchdog: it stops sending and
checks on the device's own timestamps that force went to zero and a fault latched within the
watchdog period plus 1 ms, and that the fault must be cleared before arming again.

The device's kind comes from its handshake (`probe`). A paddle is measured here; a board of
another kind by the link test registered under its kind's name in the `haptics.link_tests`
entry points (pyproject.toml; the taxel board's is `drivers.tactile.check.LINK_TEST`), so
this module names no other driver family.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from drivers.serial import protocol as p
from drivers.serial.device import SerialDevice
from drivers.serial.emulator import running_emulators
from drivers.serial.framing import FrameReader
from haptics.errors import DeviceError, DeviceNotFound, MessageError
from haptics.loop.clock import sleep_until
from haptics.plugins import load as load_plugin

LINK_TEST_GROUP = "haptics.link_tests"


class LinkTest(NamedTuple):
    """How `haptics devices test` measures one kind of board (a `haptics.link_tests` entry).

    run(port, duration_s, progress) returns a JSON-able result whose "kind" is the entry's
    name; evaluate(result) returns {check: passed, ..., "ok": all passed}.
    """

    run: Callable[[str, float, Callable[[float], None] | None], dict[str, Any]]
    evaluate: Callable[[dict[str, Any]], dict[str, Any]]


def link_test(kind: str) -> LinkTest | None:
    """The link test registered for `kind` ("taxel", ...), or None (a paddle is tested here).

    Raises DeviceError when the entry exists but is not a LinkTest.
    """
    test = load_plugin(LINK_TEST_GROUP, kind)
    if test is not None and not isinstance(test, LinkTest):
        raise DeviceError(f"devices test: the {LINK_TEST_GROUP} entry '{kind}' is not a "
                          "LinkTest; fix the package that declares it")
    return test


WARMUP_S = 0.25  # the device's tick phase-locks to the commands in ~25 ms; not measured
RT_PRIORITY = 40


@contextlib.contextmanager
def realtime_scheduling(enabled: bool = True) -> Iterator[bool]:
    """SCHED_FIFO for the calling thread (and threads it starts) while inside, if allowed.

    Yields whether it took effect: it needs root or CAP_SYS_NICE. A 1 kHz haptic loop is
    normally run this way; without it, other load on the machine shows up in the figures.
    """
    if not enabled or not hasattr(os, "sched_setscheduler"):
        yield False
        return
    try:
        policy, param = os.sched_getscheduler(0), os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(RT_PRIORITY))
    except OSError:
        yield False
        return
    try:
        yield True
    finally:
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, policy, param)


def list_ports() -> list[dict[str, Any]]:
    """Serial ports the OS knows (serial.tools.list_ports) and running firmware emulators."""
    from serial.tools import list_ports as lp

    out: list[dict[str, Any]] = []
    for info in lp.comports():
        out.append({
            "port": info.device, "kind": "serial", "description": info.description,
            "hwid": info.hwid, "serial_number": info.serial_number,
            "vid": info.vid, "pid": info.pid,
        })
    for emu in running_emulators():
        kind = emu.get("kind", "?")
        detail = (f"{emu.get('rows', '?')}x{emu.get('cols', '?')} taxels" if kind == "taxel"
                  else f"watchdog {emu.get('watchdog_ms', '?')} ms")
        out.append({
            "port": emu.get("link") or emu["port"], "kind": "emulator", "pty": emu["port"],
            "description": (f"haptics-emulator {kind} (pid {emu['pid']}, "
                            f"{emu.get('rate_hz', '?')} Hz, {detail})"),
            "pid": emu["pid"],
        })
    return out


def probe(port: str, timeout_s: float = 2.0) -> p.DeviceInfoReply:
    """The DEVICE_INFO of the board on `port`: HELLO (after a lone 0x00) every 100 ms until it
    answers. HELLO and DEVICE_INFO are frozen, so any version of any kind answers. A paddle
    is left disarmed, as every new host finds it.

    Raises DeviceNotFound (no such port, cannot open) or DeviceError (no answer in time).
    """
    import secrets

    import serial

    if "://" not in port and not os.path.exists(port):
        raise DeviceNotFound(f"devices test: no port at {port}. Is the device plugged in (or the "
                             "emulator running)? `haptics devices list` shows what is there.")
    try:
        link = serial.serial_for_url(port, baudrate=2_000_000, timeout=0.02)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise DeviceNotFound(f"devices test: cannot open {port}: {exc}. Is another program "
                             "using it, or are permissions missing (dialout group)?") from exc
    nonce = secrets.randbits(32) or 1
    reader = FrameReader()
    try:
        with contextlib.suppress(OSError, serial.SerialException):
            link.reset_input_buffer()
        deadline = time.monotonic() + timeout_s
        next_hello = 0.0
        while (now := time.monotonic()) < deadline:
            if now >= next_hello:
                next_hello = now + 0.1
                link.write(b"\x00" + p.encode_wire(p.Hello(nonce)))
            for body in reader.feed(link.read(4096)):
                try:
                    msg = p.decode(body)
                except MessageError:
                    continue
                if isinstance(msg, p.DeviceInfoReply) and msg.nonce == nonce:
                    return msg
    except (serial.SerialException, OSError) as exc:
        raise DeviceError(f"devices test: {port} failed during the handshake: {exc}") from exc
    finally:
        link.close()
    raise DeviceError(f"devices test: {port} did not answer HELLO within {timeout_s:g} s. Is it a "
                      "board running this project's firmware, powered, and on this port?")


def run_device_test(port: str, duration_s: float = 10.0, rate_hz: float = 1000.0,
                    watchdog_check: bool = True, *, realtime: bool = True,
                    progress: Callable[[float], None] | None = None) -> dict[str, Any]:
    """Measure the link to the device on `port` (a path or pyserial URL).

    Returns a JSON-able dict: device info, stream rate_hz, rtt_us {p50, p99, max, count},
    frames_lost, link_lost (times the device went silent and was reconnected, disarmed),
    crc_errors, framing_errors, the device's error counters, and (unless
    `watchdog_check` is False) watchdog {period_ms, tripped_after_ms, force_zeroed,
    fault_latched, ok}. With `realtime`, the loop and the driver's reader thread run with
    SCHED_FIFO when the OS allows it (`realtime` in the result says whether it did).
    `progress(fraction)` is called about ten times a second.
    A board of another kind (its handshake says which) is measured by the link test
    registered for that kind (`link_test`); a taxel board's result has kind "taxel", and
    `rate_hz`, `watchdog_check` and `realtime` do not apply to it.
    Raises DeviceNotFound, FirmwareMismatch or DeviceError when the device cannot be used,
    or when no link test knows its kind.
    """
    if not (duration_s > 0 and rate_hz > 0):
        raise DeviceError("devices test: duration and rate must be positive")
    info = probe(port)
    kind = p.device_kind(info.device_type)
    if kind != "paddle":
        test = link_test(kind)
        if test is None:
            raise DeviceError(f"devices test: {port} is a {kind} board and no installed link "
                              f"test measures that kind ({LINK_TEST_GROUP} entry points); "
                              "install the driver package for it")
        return test.run(port, duration_s, progress)
    with realtime_scheduling(realtime) as rt:
        result = _run(port, duration_s, rate_hz, watchdog_check, progress)
    return {**result, "realtime": rt}


def _run(port: str, duration_s: float, rate_hz: float, watchdog_check: bool,
         progress: Callable[[float], None] | None) -> dict[str, Any]:
    dev = SerialDevice(port, host_watchdog_ms=None)
    info = dev.open()
    try:
        first = dev.read(1.0)
        if first is None:
            raise DeviceError(f"devices test: {port} answered the handshake but streams no STATE")
        state = dev.last_state
        if state is not None and state.arm_state == p.ArmState.FAULT:
            dev.clear_fault()
        dev.arm()
        # A collection of the older generations walks every object of the process (pydantic,
        # numpy, ...) and stalls all threads for milliseconds: keep it out of the timed part.
        was_enabled = gc.isenabled()
        gc.collect()
        gc.freeze()
        gc.disable()
        try:
            stream = _stream(dev, duration_s, rate_hz, progress)
        finally:
            if was_enabled:
                gc.enable()
            gc.unfreeze()
        stats = dev.stats()
        result: dict[str, Any] = {
            "kind": "paddle",
            "port": port,
            "device": info.model_dump(),
            "duration_s": duration_s,
            "command_rate_hz": rate_hz,
            "warmup_s": WARMUP_S,
            **stream,
            "rtt_us": stats["rtt_us"],
            "frames_lost": stats["frames_lost"],
            # the device went silent and was reconnected (disarmed) during the test
            "link_lost": stats["lost_events"],
            "crc_errors": stats["crc_errors"],
            "framing_errors": stats["framing_errors"],
            "samples_dropped": stats["samples_dropped"],
            "commands_sent": stats["commands_sent"],
            "device_errors": stats["device_errors"],
        }
        if watchdog_check:
            result["watchdog"] = _check_watchdog(dev)
        dev.disarm()
        return result
    finally:
        dev.close()


def _stream(dev: SerialDevice, duration_s: float, rate_hz: float,
            progress: Callable[[float], None] | None) -> dict[str, Any]:
    """Close a loop over the device for WARMUP_S + duration_s; statistics cover duration_s."""
    period_ns = round(1e9 / rate_hz)
    n_warm = int(WARMUP_S * rate_hz)
    n_total = n_warm + int(duration_s * rate_hz)
    x = v = 0.0
    first_dev_ns = last_dev_ns = 0
    received = 0
    missed = 0
    next_progress = 0
    deadline = time.monotonic_ns()
    t0 = deadline
    for k in range(n_total):
        if k == n_warm:
            dev.reset_stats()
            received = 0
            first_dev_ns = 0
        deadline += period_ns
        now = sleep_until(deadline, spin_ns=150_000)
        if now - deadline > period_ns:  # a stall on this host: keep the grid, skip the missed
            skipped = (now - deadline) // period_ns
            deadline += skipped * period_ns
            missed += int(skipped)
        t = (deadline - t0) / 1e9
        # a soft centring spring plus a 1 Hz wobble: position and force both move
        force = -60.0 * x - 0.8 * v + 0.2 * math.sin(2.0 * math.pi * t)
        dev.write((force, 0.0, 0.0))
        while (s := dev.read(0.0)) is not None:
            x, v = s.position[0], s.velocity[0]
            received += 1
            if first_dev_ns == 0:
                first_dev_ns = s.device_time_ns
            last_dev_ns = s.device_time_ns
        if progress is not None and k >= next_progress:
            progress(k / n_total)
            next_progress = k + int(rate_hz / 10) + 1
    span_s = (last_dev_ns - first_dev_ns) / 1e9
    return {
        "rate_hz": round((received - 1) / span_s, 1) if span_s > 0 and received > 1 else 0.0,
        "samples": received,
        "host_missed_ticks": missed,
    }


def _check_watchdog(dev: SerialDevice) -> dict[str, Any]:
    """Stop commanding; judge the firmware watchdog from the device's own STATE timestamps.

    tripped_after_ms runs from the first STATE echoing the last command (the device feeds
    its watchdog on that command's arrival, at most a tick earlier) to the first FAULT STATE.
    """
    info = dev.device_info_reply
    period_ms = float(info.watchdog_ms) if info is not None else 100.0
    seen: list[p.State] = []

    def record(st: p.State, _now: int) -> None:
        seen.append(st)

    dev.add_listener(record)
    dev.write((0.0, 0.0, 0.0))
    last_seq = dev.last_command_seq
    end = time.monotonic() + period_ms * 1.5 / 1000 + 0.1
    while time.monotonic() < end:
        dev.read(0.01)
    dev.remove_listener(record)
    applied = next((s for s in seen if s.last_cmd_seq == last_seq), None)
    trip_i = next((i for i, s in enumerate(seen)
                   if applied is not None and s.seq > applied.seq
                   and s.arm_state == p.ArmState.FAULT), None)
    tripped_after_ms: float | None = None
    force_zeroed = fault_latched = False
    faults: list[str] = []
    if applied is not None and trip_i is not None:
        trip = seen[trip_i]
        faults = [name for bit, name in p.FAULT_NAMES.items() if trip.fault_bits & bit]
        tripped_after_ms = (trip.time_us - applied.time_us) / 1000.0
        after = seen[trip_i:]
        force_zeroed = all(s.force_cmd_n == 0.0 for s in after)
        fault_latched = all(s.arm_state == p.ArmState.FAULT and s.fault_bits & p.FAULT_WATCHDOG
                            for s in after)
    # latched means: ARM is refused until CLEAR_FAULT
    refused = False
    dev.disarm()
    try:
        dev.arm()
    except DeviceError:
        refused = True
    else:
        dev.disarm()
    dev.clear_fault()
    dev.arm()  # raises if the fault did not clear
    rearmed = False
    end = time.monotonic() + 0.1
    while not rearmed and time.monotonic() < end:
        dev.read(0.005)
        st = dev.last_state
        rearmed = st is not None and st.arm_state == p.ArmState.ARMED
    dev.disarm()
    fault_latched = fault_latched and refused
    ok = (tripped_after_ms is not None and tripped_after_ms <= period_ms + 1.0
          and force_zeroed and fault_latched and rearmed)
    return {
        "period_ms": period_ms,
        "tripped_after_ms": tripped_after_ms,
        "faults": faults,  # what the trip latched: ["watchdog"] when all is well
        "force_zeroed": force_zeroed,
        "fault_latched": fault_latched,
        "rearm_after_clear": rearmed,
        "ok": ok,
    }


# The link a 1 kHz haptic loop needs (issue 4's acceptance figures).
LIMITS: dict[str, float] = {"rtt_p50_us": 250.0, "rtt_p99_us": 1000.0}


def evaluate(result: dict[str, Any]) -> dict[str, Any]:
    """Pass/fail of each figure of a `run_device_test` result, and `ok` for all of them."""
    kind = str(result.get("kind", "paddle"))
    if kind != "paddle":
        test = link_test(kind)
        if test is None:
            raise DeviceError(f"devices test: no installed link test judges a {kind} board")
        return test.evaluate(result)
    rtt = result.get("rtt_us") or {}
    checks: dict[str, bool] = {
        "link_kept": result.get("link_lost", 0) == 0,
        "frames_lost": result.get("frames_lost") == 0,
        "crc_errors": result.get("crc_errors") == 0,
        "rtt_p50": rtt.get("p50") is not None and rtt["p50"] <= LIMITS["rtt_p50_us"],
        "rtt_p99": rtt.get("p99") is not None and rtt["p99"] <= LIMITS["rtt_p99_us"],
    }
    if "watchdog" in result:
        checks["watchdog"] = bool(result["watchdog"].get("ok"))
    return {**checks, "ok": all(checks.values())}
