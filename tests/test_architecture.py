"""The import contracts in pyproject.toml hold, and they really catch a broken rule.

`make test` runs `lint-imports` on the tree itself; these tests plant violations in a copy of
the tree and check that the same contracts then fail, naming the rule that broke.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _copy_tree(dest: Path) -> Path:
    for name in ("haptics", "drivers", "sim"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def _lint(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True,
        timeout=120,
    )


def _plant(tree: Path, module: str, line: str) -> None:
    path = tree / module
    text = path.read_text(encoding="utf-8")
    head, sep, rest = text.partition("from __future__ import annotations\n")
    assert sep, f"{module} has no future import to plant after"
    path.write_text(head + sep + line + "\n" + rest, encoding="utf-8")


def test_the_tree_keeps_every_contract(tmp_path: Path) -> None:
    result = _lint(_copy_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("haptics/loop/tick.py", "import drivers", "never imports drivers or sim"),
        ("haptics/session/manifest.py", "import sim.world", "never imports drivers or sim"),
        ("haptics/wire/messages.py", "import haptics.loop.safety", "layers"),
        ("haptics/devices/device.py", "import haptics.runtime.orchestrator", "layers"),
        ("haptics/errors.py", "import haptics.wire.control", "bottom modules"),
        ("drivers/simulated/hand.py", "import sim.world", "independent"),
        ("haptics/loop/safety.py", "import haptics.loop.tick", "No import cycle"),
    ],
)
def test_a_planted_violation_breaks_its_contract(
    tmp_path: Path, module: str, line: str, contract: str
) -> None:
    tree = _copy_tree(tmp_path)
    _plant(tree, module, line)
    result = _lint(tree)
    assert result.returncode != 0
    broken = [ln for ln in result.stdout.splitlines() if ln.endswith("BROKEN")]
    assert any(contract in ln for ln in broken), result.stdout
