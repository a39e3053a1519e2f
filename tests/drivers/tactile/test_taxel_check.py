"""`haptics devices test` and `haptics emulator start taxel` on a taxel board, end to end."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.serial.check import evaluate, list_ports, probe, run_device_test
from drivers.serial.emulator import EmulatorProcess, start_emulator
from drivers.tactile.board import TaxelBoard

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def _parser() -> argparse.ArgumentParser:
    """The real `haptics` parser: `devices` and `emulator` arrive through entry points."""
    from haptics.cli.main import build_parser

    return build_parser()


def test_probe_tells_the_kinds_apart(taxel_emulator: EmulatorProcess) -> None:
    from drivers.serial import protocol as p

    assert p.device_kind(probe(taxel_emulator.port).device_type) == "taxel"
    with start_emulator("paddle") as paddle:
        assert p.device_kind(probe(paddle.port).device_type) == "paddle"


def test_device_test_recognises_a_taxel_board(taxel_emulator: EmulatorProcess) -> None:
    r = run_device_test(taxel_emulator.port, duration_s=1.5)
    assert r["kind"] == "taxel"
    assert r["device"]["rows"] == 16 and r["device"]["provenance"] == "emulated"
    assert r["rate_hz"] == pytest.approx(200.0, rel=0.05)
    assert r["frames_lost"] == 0 and r["crc_errors"] == 0 and r["stalls"] == 0
    assert r["frames"] >= 280
    assert 20 < r["pressure"]["max_kpa"] <= 71 and r["pressure"]["mean_contact_taxels"] > 5
    verdict = evaluate(r)
    assert verdict == {"frames": True, "rate": True, "frames_lost": True, "crc_errors": True,
                       "stalls": True, "ok": True}
    json.dumps(r)


def test_verdict_fails_a_slow_or_lossy_board() -> None:
    good = {"kind": "taxel", "frames": 100, "expected_rate_hz": 200.0, "rate_hz": 199.0,
            "frames_lost": 0, "crc_errors": 0, "stalls": 0}
    assert evaluate(good)["ok"]
    assert not evaluate({**good, "rate_hz": 189.0})["rate"]  # 5.5 % slow
    assert not evaluate({**good, "frames_lost": 1})["ok"]
    assert not evaluate({**good, "crc_errors": 2})["ok"]
    assert not evaluate({**good, "stalls": 1})["ok"]
    assert not evaluate({**good, "frames": 0})["ok"]


def test_cli_devices_test_on_a_taxel_board(taxel_emulator: EmulatorProcess,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser().parse_args(["devices", "test", f"serial:{taxel_emulator.port}",
                                 "--duration", "1", "--json"])
    code = args.func(args)
    out = json.loads(capsys.readouterr().out)
    assert out["kind"] == "taxel" and out["verdict"]["ok"], out
    assert code == 0
    args = _parser().parse_args(["devices", "test", taxel_emulator.port, "--duration", "0.5"])
    args.func(args)
    text = capsys.readouterr().out
    assert "taxel board 16x16" in text and "frames lost" in text and "CRC errors" in text


def test_list_shows_a_taxel_emulator(taxel_emulator: EmulatorProcess) -> None:
    (entry,) = [e for e in list_ports() if e["kind"] == "emulator"]
    assert entry["port"] == taxel_emulator.port
    assert "taxel" in entry["description"] and "16x16 taxels" in entry["description"]


def test_cli_emulator_start_taxel(emulator_binary: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "haptics.cli.main", "emulator", "start",
                             "taxel", "--rows", "12", "--cols", "10", "--rate", "120"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                            env=os.environ.copy())
    try:
        assert proc.stdout is not None
        port = proc.stdout.readline().decode().strip()
        with TaxelBoard(port) as board:
            info = board.info
            assert info is not None
            assert (info.rows, info.cols) == (12, 10)
            assert info.frame_rate_hz == pytest.approx(120.0, rel=1e-4)  # 8333 µs periods
            frame = board.get(1.0)
            assert frame is not None and frame.shape == (12, 10)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert not os.path.exists(port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_emulator_refuses_geometry_for_a_paddle(capsys: pytest.CaptureFixture[str]) -> None:
    args = _parser().parse_args(["emulator", "start", "paddle", "--rows", "4"])
    assert args.func(args) == 2
    assert "--rows" in capsys.readouterr().err
