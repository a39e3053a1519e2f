"""`haptics run` refuses bad options and files before any process starts: exit 2, one
`error: ...` line saying what to do, never a traceback; and fuzzed options either parse into
a finite, in-range session or are refused that way."""

from __future__ import annotations

import argparse
import functools
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haptics.cli.main import build_parser, main
from haptics.cli.run import session_config
from haptics.devices.registry import driver_names
from haptics.errors import ConfigError
from haptics.loop.scene import scene_names
from haptics.runtime.orchestrator import MAX_DURATION_S, MAX_RATE_HZ, MIN_RATE_HZ


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # one message, one line


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run `haptics run ARGV` in-process; assert exit 2 and no traceback; the stderr text."""
    code = main(["run", "--quiet", *argv])
    out, err = capsys.readouterr()
    assert code == 2, out + err
    assert "Traceback" not in out + err
    return err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--rate", "0"],
            "error: --rate 0: input should be greater than or equal to 50; "
            "give a loop rate from 50 to 10000 Hz",
        ),
        (
            ["--rate", "1e9"],
            "error: --rate 1e+09: input should be less than or equal to 10000; "
            "give a loop rate from 50 to 10000 Hz",
        ),
        (
            ["--duration", "nan"],
            "error: --duration nan: input should be a finite number; "
            "give 0 (run until Ctrl-C) or seconds up to 604800",
        ),
        (
            ["--duration", "-1"],
            "error: --duration -1: input should be greater than 0; "
            "give 0 (run until Ctrl-C) or seconds up to 604800",
        ),
        (
            ["--camera-fps", "inf"],
            "error: --camera-fps inf: input should be a finite number; "
            "give a frame rate above 0 and up to 120",
        ),
        (
            ["--scene", "nope"],
            f"error: no scene named 'nope'; available: {', '.join(scene_names())}",
        ),
        (
            ["--device", "nope"],
            f"error: no driver named 'nope'; installed drivers: {', '.join(driver_names())}. "
            "Is the package that provides it installed (pip install -e .)?",
        ),
    ],
)
def test_bad_options_are_refused_with_one_message(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], message: str
) -> None:
    err = refused(capsys, *argv, "--record", str(tmp_path / "s"))
    assert err == message + "\n"
    assert not (tmp_path / "s").exists()  # nothing started, nothing written


def test_a_record_path_that_is_a_file_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    f = tmp_path / "afile"
    f.write_text("x")
    err = refused(capsys, "--record", str(f))
    assert err == f"error: --record {f} is a file, not a folder; give a folder for the sessions\n"


@pytest.mark.parametrize(
    ("root", "why"),
    [
        # root may write almost anywhere: /proc and /sys refuse new folders even to root
        ("/proc/haptics-sessions", "No such file or directory"),
        ("/sys/haptics-sessions", "Operation not permitted"),
    ],
)
def test_a_record_path_that_cannot_be_written_is_refused(
    capsys: pytest.CaptureFixture[str], root: str, why: str
) -> None:
    err = refused(capsys, "--record", root)
    assert err == (
        f"error: cannot record under {root}: {why}; give a folder you may write "
        "(--record DIR), or --no-record\n"
    )


def test_a_watchdog_of_inf_in_the_safety_policy_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = tmp_path / "safety.toml"
    policy.write_text("driver_watchdog_ms = inf\n")
    err = refused(capsys, "--no-record", "--safety", str(policy))
    assert err == (
        f"error: safety policy {policy} is invalid: driver_watchdog_ms: Input should be a "
        "finite number. Fix these keys (see docs/examples/safety-simulated.toml).\n"
    )


def test_a_watchdog_longer_than_a_second_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = tmp_path / "safety.toml"
    policy.write_text("input_watchdog_ms = 1e12\n")
    err = refused(capsys, "--no-record", "--safety", str(policy))
    assert "input_watchdog_ms: Input should be less than or equal to 1000" in err


def test_a_rate_too_slow_for_the_driver_watchdog_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    policy = tmp_path / "safety.toml"
    policy.write_text("driver_watchdog_ms = 10.0\n")
    err = refused(capsys, "--no-record", "--safety", str(policy), "--rate", "80")
    assert err == (
        "error: a 80 Hz loop commands every 12.5 ms, but the driver watchdog zeroes force "
        "after 10 ms without a command; raise the rate or the watchdog (--rate, --safety)\n"
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            "inclusion_radius_range_m = [-0.01, 0.01]",
            "inclusion_radius_range_m.0: -0.01 must be above 0",
        ),
        (
            "tissue_stiffness_n_per_m = inf",
            "tissue_stiffness_n_per_m: inf is not a finite number; give a finite value",
        ),
        (
            "tissue_stiffness_n_per_m = 1e9",
            "tissue_stiffness_n_per_m: 1e+09 N/m is beyond the sane bound of 1e+06 N/m",
        ),
        (
            "inclusion_top_depth_range_m = [0.006, 0.004]",
            "inclusion_top_depth_range_m: the range [0.006, 0.004] is reversed; give [low, high]",
        ),
    ],
)
def test_a_scene_config_with_an_impossible_value_names_the_file_and_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, table: str, message: str
) -> None:
    scene = tmp_path / "scene.toml"
    scene.write_text(f"[palpation]\n{table}\n")
    err = refused(capsys, "--no-record", "--scene-config", str(scene))
    assert err == f"error: [palpation] in {scene}: {message}\n"


# -- fuzzing: parse + validate only, no session started -------------------------------------------
NUMBER_TEXT = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**12), 10**12).map(str),
    st.sampled_from(["nan", "-nan", "inf", "-inf", "1e309", "0", "-0", "1e-320", "", "x", "1_0"]),
    st.text(max_size=8),
)
OPTIONS = ("--rate", "--duration", "--camera-fps", "--camera-size", "--seed")


@functools.cache
def parser() -> argparse.ArgumentParser:
    return build_parser()  # built once: it loads every entry point


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(OPTIONS), NUMBER_TEXT), max_size=4))
def test_fuzzed_options_are_valid_and_finite_or_refused_with_a_message(
    options: list[tuple[str, str]],
) -> None:
    argv = ["run", "--no-record"]
    for name, value in options:
        argv.append(f"{name}={value}")  # `=`: a value starting with '-' stays a value
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:  # argparse refused it: its usage line and exit 2
        assert exc.code == 2
        return
    try:
        cfg = session_config(args)
    except ConfigError as exc:
        text = str(exc)
        assert text and "Traceback" not in text
        assert text.startswith(("--rate ", "--duration ", "--camera-fps ", "--camera-size ", "a "))
        return
    assert math.isfinite(cfg.rate_hz) and MIN_RATE_HZ <= cfg.rate_hz <= MAX_RATE_HZ
    assert cfg.duration_s is None or 0 < cfg.duration_s <= MAX_DURATION_S
    assert math.isfinite(cfg.camera_fps) and 0 < cfg.camera_fps <= 120
    assert 0 < cfg.camera_width <= 4096 and 0 < cfg.camera_height <= 4096
