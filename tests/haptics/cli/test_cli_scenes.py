"""`haptics scenes list|plot-model`, driven through its own argparse registration."""

from __future__ import annotations

import argparse
import importlib.metadata
import json
from collections.abc import Callable
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

from haptics import plugins
from haptics.cli import scenes as cli
from haptics.errors import ConfigError, HapticsError

PLOT_EP = EntryPoint(name="plot-model", value="sim.tissue.plot:plot_model", group="haptics.tools")


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="haptics")
    sub = parser.add_subparsers(dest="command", required=True)
    cli.register(sub)
    return parser.parse_args(argv)


def _run(argv: list[str]) -> int:
    args = _parse(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    return func(args)


@pytest.fixture
def tools(monkeypatch: pytest.MonkeyPatch) -> list[EntryPoint]:
    """The haptics.tools group as the CLI sees it (as pyproject will declare it)."""
    eps: list[EntryPoint] = [PLOT_EP]

    real = importlib.metadata.entry_points

    def fake(*, group: str) -> Any:
        return eps if group == plugins.TOOL_GROUP else real(group=group)

    monkeypatch.setattr(plugins, "entry_points", fake)
    return eps


def test_list_json_names_every_scene_with_its_first_docstring_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _run(["scenes", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert {"palpation", "needle", "cutting"} <= set(rows)
    assert rows["needle"]["description"].startswith("Needle insertion through skin, fat")
    assert rows["needle"]["class"] == "sim.scenes.needle:NeedleScene"
    assert rows["cutting"]["description"].startswith("A scalpel cutting a tissue block")
    # no class docstring: the module's first line
    assert rows["palpation"]["description"].startswith("Palpation: a soft tissue block")


def test_list_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["scenes", "list"]) == 0
    out = capsys.readouterr().out
    assert "needle" in out and "cutting" in out and "palpation" in out


def test_a_broken_scene_does_not_hide_the_others(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def load(name: str) -> Any:
        if name == "broken":
            raise ImportError("no module named 'jelly'")
        return type("Fine", (), {"__doc__": "A fine scene.\n\nMore."})

    monkeypatch.setattr(cli, "scene_names", lambda: ["broken", "fine"])
    monkeypatch.setattr(cli, "load_scene", load)
    assert _run(["scenes", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["description"].startswith("(cannot load: no module named 'jelly'")
    assert rows[1]["description"] == "A fine scene."


def test_plot_model_writes_a_png_through_the_tools_entry_point(
    tools: list[EntryPoint], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "curves" / "linear.png"
    assert _run(["scenes", "plot-model", "linear", "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote" in capsys.readouterr().out


def test_plot_model_default_path(
    tools: list[EntryPoint], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _run(["scenes", "plot-model", "linear"]) == 0
    assert (tmp_path / "linear.png").exists()


def test_plot_unknown_model_lists_the_models(tools: list[EntryPoint], tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _run(["scenes", "plot-model", "jelly", "-o", str(tmp_path / "x.png")])
    assert "needle" in str(info.value) and "kelvin_voigt" in str(info.value)


def test_missing_tool_is_a_clear_error(tools: list[EntryPoint], tmp_path: Path) -> None:
    tools.clear()
    with pytest.raises(HapticsError, match=r"no 'plot-model' tool installed \(haptics.tools"):
        _run(["scenes", "plot-model", "linear", "-o", str(tmp_path / "x.png")])


def test_plot_model_to_a_path_it_cannot_write_is_one_message(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from haptics.cli.main import main

    monkeypatch.setenv("COLUMNS", "400")
    code = main(["scenes", "plot-model", "needle", "-o", "/proc/haptics-x.png"])
    out, err = capsys.readouterr()
    assert code == 2 and "Traceback" not in out + err
    assert err == (
        "error: cannot write /proc/haptics-x.png: No such file or directory; "
        "give a path you may write (-o PNG)\n"
    )
