"""The console command imports only the module of the command it runs; it lists them all."""

import argparse
import subprocess
import sys
from pathlib import Path

from haptics.cli.commands import CORE_COMMANDS
from haptics.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[3]


def _modules_after(code: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print(' '.join(sorted(sys.modules)))"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    return set(done.stdout.split())


def test_a_session_command_does_not_import_the_dataset_web_or_batch_stacks() -> None:
    # every session child re-imports the console command's main module: seconds each if it
    # pulled in scikit-learn, SQLAlchemy, Starlette and Dask
    loaded = _modules_after("from haptics.cli.main import build_parser; build_parser('run')")
    assert "haptics.cli.run" in loaded
    heavy = {"sklearn", "sqlalchemy", "starlette", "dask", "haptics.cli.curate"} & loaded
    assert not heavy, heavy
    assert "haptics.cli.main" in _modules_after("import haptics.cli.main")
    assert not {"haptics.cli.run", "haptics.cli.sessions"} & _modules_after(
        "import haptics.cli.main"
    )


def _choices(command: str | None) -> dict[str, argparse.ArgumentParser]:
    sub = next(
        a for a in build_parser(command)._actions if isinstance(a, argparse._SubParsersAction)
    )
    return sub.choices


def test_the_full_parser_has_every_command_for_real_and_a_run_only_its_own() -> None:
    real = {name for name, p in _choices(None).items() if len(p._actions) > 1}  # not just -h
    assert set(CORE_COMMANDS) <= real
    only = {name for name, p in _choices("sessions").items() if len(p._actions) > 1}
    assert only == {"sessions"}


def test_every_command_is_listed_whichever_runs() -> None:
    for command in (None, "sessions", "run"):
        choices = _choices(command)
        assert set(CORE_COMMANDS) <= set(choices), command
        assert {"devices", "emulator"} <= set(choices)  # the serial driver's, by entry point


def test_a_command_runs_with_only_its_own_module() -> None:
    parser = build_parser("sessions")
    args = parser.parse_args(["sessions", "list", str(ROOT / "no-such-folder"), "--json"])
    assert args.func.__module__ == "haptics.cli.sessions"
