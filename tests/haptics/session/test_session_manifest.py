"""The manifest: an unknown schema version is refused, a broken file is named."""

import json
from pathlib import Path

import pytest

from haptics.errors import SessionError
from haptics.session.manifest import SCHEMA_VERSION, Manifest, read_manifest, write_manifest


def _with(tmp_path: Path, **changes: object) -> Path:
    write_manifest(tmp_path, Manifest())
    raw = json.loads((tmp_path / "manifest.json").read_text())
    raw.update(changes)
    (tmp_path / "manifest.json").write_text(json.dumps(raw))
    return tmp_path


def test_a_manifest_round_trips(tmp_path: Path) -> None:
    m = Manifest(scene={"scene": "palpation"})
    write_manifest(tmp_path, m)
    assert read_manifest(tmp_path) == m


@pytest.mark.parametrize("version", [SCHEMA_VERSION + 1, 99])
def test_a_newer_schema_version_is_refused(tmp_path: Path, version: int) -> None:
    with pytest.raises(SessionError, match=rf"schema_version {version}.*upgrade haptics"):
        read_manifest(_with(tmp_path, schema_version=version))


@pytest.mark.parametrize("version", [0, "1", None, True])
def test_an_unknown_schema_version_is_refused(tmp_path: Path, version: object) -> None:
    with pytest.raises(SessionError, match=r"schema_version .* reads only version 1"):
        read_manifest(_with(tmp_path, schema_version=version))


def test_broken_json_and_wrong_fields_are_named(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text('{"schema_version": 1, "streams": {')
    with pytest.raises(SessionError, match=r"manifest\.json is not valid JSON"):
        read_manifest(tmp_path)
    _with(tmp_path, status="exploded")
    with pytest.raises(SessionError, match=r"does not match the manifest schema .*'status'"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("[1, 2]")
    with pytest.raises(SessionError, match="no manifest object"):
        read_manifest(tmp_path)
