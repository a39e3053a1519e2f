"""`haptics scenes list|plot-model`: the scenes installed, and tissue models' curves.

The core never imports `sim` by name: scenes come from the `haptics.scenes` entry points
(`haptics.plugins`), and the plotting tool from the `haptics.tools` entry point group
(`plot-model = "sim.tissue.plot:plot_model"`, a callable `(model_name, out_path) -> Path`
that raises ConfigError naming the known models for an unknown one).
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from haptics.cli.commands import summary
from haptics.errors import HapticsError
from haptics.loop.scene import load_scene, scene_names
from haptics.plugins import load_tool

PLOT_MODEL_TOOL = "plot-model"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `scenes list` and `scenes plot-model` to the `haptics` command."""
    p = sub.add_parser("scenes", help=summary("scenes"))
    ss = p.add_subparsers(dest="scenes_cmd", required=True)
    ls = ss.add_parser("list", help="installed scenes (haptics.scenes entry points)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)
    pm = ss.add_parser("plot-model", help="draw a tissue model's force curves to a PNG")
    pm.add_argument("model", help="tissue model name, e.g. needle, cutting, kelvin_voigt")
    pm.add_argument("-o", "--out", type=Path, default=None, help="PNG path (default <model>.png)")
    pm.set_defaults(func=cmd_plot_model)


def describe_class(cls: Any) -> str:
    """First line of the class docstring, else of its module's docstring, else ''."""
    doc = cls.__doc__ if isinstance(cls, type) else None
    if not doc:
        module = sys.modules.get(getattr(cls, "__module__", ""), None)
        doc = module.__doc__ if module is not None else None
    doc = inspect.cleandoc(doc) if doc else ""
    return doc.splitlines()[0].strip() if doc else ""


def scene_rows() -> list[dict[str, str]]:
    """One row per installed scene: name, description and the class it loads.

    A scene whose module fails to import is listed with the error as its description.
    """
    rows: list[dict[str, str]] = []
    for name in scene_names():
        try:
            cls = load_scene(name)
        except Exception as exc:  # a broken third-party scene must not hide the others
            rows.append({"name": name, "description": f"(cannot load: {exc})", "class": ""})
            continue
        rows.append(
            {
                "name": name,
                "description": describe_class(cls),
                "class": f"{cls.__module__}:{getattr(cls, '__qualname__', cls)}",
            }
        )
    return rows


def cmd_list(args: argparse.Namespace) -> int:
    """Print the installed scenes (a table, or JSON with --json)."""
    rows = scene_rows()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    console = Console()
    if not rows:
        console.print("no scenes installed (haptics.scenes entry points); pip install -e .?")
        return 0
    t = Table(title="scenes")
    for col in ("name", "description", "class"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["name"], r["description"], r["class"])
    console.print(t)
    return 0


def cmd_plot_model(args: argparse.Namespace) -> int:
    """Plot the tissue model `args.model` to `args.out` (default <model>.png).

    Raises ConfigError (from the tool) naming the known models for an unknown model.
    """
    plot = load_tool(PLOT_MODEL_TOOL)
    out = args.out if args.out is not None else Path(f"{args.model}.png")
    try:
        written = plot(args.model, out)
    except OSError as exc:
        raise HapticsError(
            f"cannot write {out}: {exc.strerror or exc}; give a path you may write (-o PNG)"
        ) from exc
    Console().print(f"wrote {written}")
    return 0
