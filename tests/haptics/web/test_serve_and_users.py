"""Where the server may listen, and the logins file and CLI."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from haptics.dataset.catalog import open_dataset
from haptics.errors import ConfigError, LabelError
from haptics.web.serve import check_bind, is_loopback
from haptics.web.users import USERS_FILE, Users
from tests.haptics.web.workbench_builders import PASSWORD, Bench


def test_loopback_only_unless_tls(tmp_path: Path) -> None:
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert is_loopback(host)
        check_bind(host, None, None)
    for host in ("0.0.0.0", "192.168.1.4", "example.org", "::"):
        assert not is_loopback(host)
        with pytest.raises(ConfigError, match="--tls-cert"):
            check_bind(host, None, None)
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("x")
    key.write_text("x")
    check_bind("0.0.0.0", cert, key)
    with pytest.raises(ConfigError, match="both"):
        check_bind("0.0.0.0", cert, None)


def test_users_are_hashed_and_roles_follow_the_store(bench: Bench) -> None:
    f = bench.dir / USERS_FILE
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    raw = json.loads(f.read_text())
    assert raw["alice"]["hash"].startswith("$argon2id$")
    assert PASSWORD not in f.read_text()
    with open_dataset(bench.dir) as ds:
        users = Users(bench.dir, ds.store)
        assert users.verify("alice", PASSWORD) == "annotator"
        assert users.verify("alice", "wrong") is None
        assert users.verify("nobody", PASSWORD) is None
        with pytest.raises(LabelError, match="exists"):
            users.add("alice", PASSWORD, "admin")
        with pytest.raises(LabelError, match="8 characters"):
            users.add("erin", "short", "annotator")
        with pytest.raises(LabelError):
            users.add("../x", PASSWORD, "annotator")
        # the label store's roles are append-only: alice stays an annotator there
        with pytest.raises(LabelError, match="already registered"):
            users.set_role("alice", "reviewer")
        assert users.verify("alice", PASSWORD) == "annotator"


def test_cli_adds_lists_and_refuses_a_public_address_without_tls(bench: Bench) -> None:
    exe = [sys.executable, "-m", "haptics.cli.main"]

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*exe, *args], input=stdin, capture_output=True, text=True, timeout=120
        )

    r = run(
        "annotate",
        "users",
        "add",
        str(bench.dir),
        "erin",
        "--role",
        "reviewer",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    assert r.returncode == 0, r.stderr
    r = run("annotate", "users", "list", str(bench.dir), "--json")
    assert {"user": "erin", "role": "reviewer"} in json.loads(r.stdout)
    r = run("annotate", "serve", str(bench.dir), "--host", "0.0.0.0")
    assert r.returncode != 0 and "without TLS" in r.stderr
