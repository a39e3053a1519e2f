"""The link test tool and the two CLI commands, end to end over the emulator."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from drivers.serial.check import evaluate, list_ports, run_device_test
from drivers.serial.device import SerialDevice
from drivers.serial.emulator import EmulatorProcess, start_emulator

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def _parser() -> argparse.ArgumentParser:
    """The real `haptics` parser: `devices` and `emulator` arrive through entry points."""
    from haptics.cli.main import build_parser

    return build_parser()


def test_run_device_test_over_the_emulator(emulator_binary: Path) -> None:
    # the stall fault set long: a busy machine that holds the emulator's tick up past the
    # default 50 ms latches a stall, and the watchdog check would see that, not the watchdog
    emulator = start_emulator("paddle", stall_ms=5000)
    try:
        lost = []
        for _ in range(3):  # again only if the machine paused past the driver's 250 ms
            r = run_device_test(emulator.port, duration_s=1.0, rate_hz=1000)
            lost.append(r["link_lost"])  # (the tool said so: the next test checks that it does)
            if r["link_lost"] == 0:
                break
    finally:
        emulator.stop()
    assert r["device"]["provenance"] == "emulated"
    assert r["frames_lost"] == 0 and r["link_lost"] == 0, f"link lost in every try: {lost}"
    assert r["crc_errors"] == 0 and r["framing_errors"] == 0
    assert 900 <= r["rate_hz"] <= 1005
    assert r["rtt_us"]["count"] > 500
    assert r["rtt_us"]["p50"] < 1000
    w = r["watchdog"]
    assert w["ok"] and w["force_zeroed"] and w["fault_latched"] and w["rearm_after_clear"], w
    assert w["period_ms"] == 100 and w["tripped_after_ms"] <= 101.0
    verdict = evaluate(r)
    assert verdict["frames_lost"] and verdict["crc_errors"] and verdict["watchdog"]
    assert verdict["link_kept"]
    json.dumps(r)  # all of it is JSON


def test_a_device_that_goes_silent_during_the_test_fails_it_and_says_so(
    emulator: EmulatorProcess,
) -> None:
    """The board freezes for 0.6 s mid-test (the emulator process stopped, as a board that
    hangs): the driver reports it lost and reconnects, disarmed; the result counts it and the
    verdict fails on it, whatever the other figures say."""
    freeze = threading.Timer(0.6, os.kill, (emulator.pid, signal.SIGSTOP))
    thaw = threading.Timer(1.2, os.kill, (emulator.pid, signal.SIGCONT))
    freeze.start()
    thaw.start()
    try:
        r = run_device_test(emulator.port, duration_s=1.5, rate_hz=1000, watchdog_check=False)
    finally:
        freeze.join()
        thaw.join()
        os.kill(emulator.pid, signal.SIGCONT)
    assert r["link_lost"] >= 1, r
    verdict = evaluate(r)
    assert not verdict["link_kept"] and not verdict["ok"]


def test_list_ports_shows_running_emulators(emulator: EmulatorProcess) -> None:
    ports = [p for p in list_ports() if p["kind"] == "emulator"]
    assert [p["port"] for p in ports] == [emulator.port]
    assert str(emulator.pid) in ports[0]["description"]


def test_cli_devices_test_json(emulator: EmulatorProcess,
                               capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser().parse_args(["devices", "test", f"serial:{emulator.port}", "--duration",
                                 "0.5", "--json", "--no-watchdog-check"])
    code = args.func(args)
    out = json.loads(capsys.readouterr().out)
    assert out["frames_lost"] == 0 and out["crc_errors"] == 0
    assert "watchdog" not in out
    assert code == (0 if out["verdict"]["ok"] else 1)


def test_cli_devices_list(emulator: EmulatorProcess, capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser().parse_args(["devices", "list", "--json"])
    assert args.func(args) == 0
    assert emulator.port in [p["port"] for p in json.loads(capsys.readouterr().out)]
    args = _parser().parse_args(["devices", "list"])
    assert args.func(args) == 0
    assert "emulator" in capsys.readouterr().out


def test_cli_emulator_start_prints_the_port_and_stops_on_sigterm(emulator_binary: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "haptics.cli.main",
                             "emulator", "start", "paddle",
                             "--watchdog-ms", "50"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT, env=os.environ.copy())
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().decode().strip()
        dev = SerialDevice(port)
        info = dev.open()
        assert info.extra["watchdog_ms"] == 50
        dev.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert not os.path.exists(port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_driver_commands_load_their_work_only_when_run() -> None:
    check = ("import sys\n"
             "from haptics.cli.main import build_parser\n"
             "build_parser()\n"
             "assert 'drivers.serial.commands' in sys.modules\n"
             "bad = [m for m in ('drivers.serial.check', 'drivers.serial.emulator') "
             "if m in sys.modules]\n"
             "assert not bad, bad\n")
    subprocess.run([sys.executable, "-c", check], check=True, cwd=ROOT)

