"""`haptics bench` refuses impossible sizes before it starts anything: a ConfigError naming
the option and the range (the CLI prints it as `error: ...` and exits 2)."""

from __future__ import annotations

import argparse

import pytest

from haptics.cli import bench
from haptics.errors import ConfigError


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="haptics")
    bench.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(["bench", *argv])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["loop", "--duration", "-1"], "--duration -1: give a number above 0 and at most 3600 s"),
        (["loop", "--duration", "nan"], "--duration nan: give a number above 0 and at most 3600 s"),
        (["read", "--hours", "nan"], "--hours nan: give a number above 0 and at most 10 h"),
        (["read", "--hours", "0"], "--hours 0: give a number above 0 and at most 10 h"),
        (
            ["record", "--minutes", "inf"],
            "--minutes inf: give a number above 0 and at most 1440 min",
        ),
    ],
)
def test_impossible_bench_sizes_are_refused_before_anything_runs(
    argv: list[str], message: str
) -> None:
    args = parse(*argv)
    with pytest.raises(ConfigError) as refused:
        args.func(args)
    assert str(refused.value) == message
