import os
import subprocess
import sys
from pathlib import Path

import pytest

HAPTICS = str(Path(sys.executable).with_name("haptics"))


def haptics(*args: str, cwd: Path, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    """Run the real console command, as a user would."""
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run(
        [HAPTICS, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.fixture
def run_haptics() -> object:
    return haptics
