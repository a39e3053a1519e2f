"""The session manifest: who, what, with which device, scene, software and clocks.

Written when recording starts (status "recording"), rewritten atomically when anything is
added, and finalised at close with per-stream counts and file hashes. A session whose
recorder was killed keeps status "recording": readers treat it as cut off, not as broken.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import uuid
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, Field

from haptics.errors import SessionError

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"


class SourceCounts(BaseModel):
    """What the process that published a declared stream (a sense-only device's) counted,
    as it reported at the stop: with `StreamInfo`'s published, received, recorded, gaps and
    bad_messages, every frame of the stream is accounted for without the run's log."""

    refused: int = Field(
        0, ge=0, description="wrong size, kind or layout version: refused, never published"
    )
    not_finite: int = Field(0, ge=0, description="published holding a NaN or infinity")
    errors: int = Field(0, ge=0, description="driver calls that raised; the stream went on")
    driver: dict[str, int] = Field(
        default_factory=dict,
        description="the driver's own counters, e.g. a taxel board's CRC errors (bad_chunks), "
        "frames of the wrong shape, frames a late simulated array skipped",
    )


class StreamInfo(BaseModel):
    file: str
    layout: str
    layout_version: int
    nominal_rate_hz: float | None = None
    received: int = 0
    gaps: int = 0
    reordered: int = 0
    bad_messages: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    published: int | None = Field(None, description="what the publisher says it sent, when known")
    recorded: int | None = Field(None, description="rows on disk (None: before this was counted)")
    source_counts: SourceCounts | None = Field(
        None, description="a declared stream's publisher's own counts (sense-only devices)"
    )
    sha256: str | None = None
    spec: dict[str, Any] | None = Field(
        None,
        description="the stream's binary layout (Layout.to_spec) for a stream a device or "
        "scene declared, so any reader decodes it; None for the core's own layouts",
    )
    source: str | None = Field(None, description="the device spec that published it")


class Manifest(BaseModel):
    schema_version: int = SCHEMA_VERSION
    session_id: str = Field(default_factory=lambda: uuid.uuid4().hex[:12])
    # "failed": the session never started (the recorder ran, the device or loop did not)
    status: Literal["recording", "complete", "repaired", "failed"] = "recording"
    created_utc: str = Field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())
    ended_utc: str | None = None
    stop_reason: str | None = None
    operator: str = Field(default_factory=lambda: os.environ.get("USER", "unknown"))
    provenance: str = "simulated"
    software: dict[str, str] = Field(default_factory=lambda: software_versions())
    device: dict[str, Any] = Field(default_factory=dict)
    scene: dict[str, Any] = Field(default_factory=dict)
    loop: dict[str, Any] = Field(default_factory=dict)
    clock: dict[str, Any] = Field(default_factory=dict)
    streams: dict[str, StreamInfo] = Field(default_factory=dict)
    video: dict[str, Any] | None = Field(
        None, description="camera video entry (session.video.VideoInfo), None without camera"
    )
    notes: list[str] = Field(default_factory=list)


def software_versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("haptics", "numpy", "pybullet", "pyzmq", "pyarrow", "pydantic"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def write_manifest(session_dir: Path, manifest: Manifest) -> None:
    """Write atomically (temp file, fsync, rename): a crash leaves the old or the new one."""
    tmp = session_dir / (MANIFEST_NAME + ".tmp")
    with open(tmp, "w") as f:
        f.write(manifest.model_dump_json(indent=2))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, session_dir / MANIFEST_NAME)


def read_manifest(session_dir: Path) -> Manifest:
    """Load a session's manifest.

    Raises SessionError, saying which file and what to do, when it is missing, cannot be
    read, is not valid JSON, has a `schema_version` this haptics does not know, or does not
    match the schema.
    """
    path = session_dir / MANIFEST_NAME
    try:
        raw = json.loads(path.read_bytes())
    except FileNotFoundError as exc:
        raise SessionError(
            f"{session_dir} is not a session (no {MANIFEST_NAME}); "
            "`haptics sessions list` shows the sessions under a folder"
        ) from exc
    except OSError as exc:
        raise SessionError(
            f"{path} cannot be read ({exc.strerror or exc}); check that it is a file you may read"
        ) from exc
    except ValueError as exc:  # JSON or UTF-8
        raise SessionError(
            f"{path} is not valid JSON ({exc}); restore it from a backup, or from "
            f"{MANIFEST_NAME}.tmp or a repair backup if one is beside it"
        ) from exc
    if not isinstance(raw, dict):
        raise SessionError(f"{path} holds no manifest object; restore it from a backup")
    found = raw.get("schema_version")
    if type(found) is not int or found != SCHEMA_VERSION:  # bool is not a version
        if isinstance(found, int) and not isinstance(found, bool) and found > SCHEMA_VERSION:
            hint = "it was written by a newer haptics: upgrade haptics to read it"
        else:
            hint = "this is not a manifest haptics wrote, or it was edited by hand"
        raise SessionError(
            f"{path} has schema_version {found!r}, and this haptics reads only version "
            f"{SCHEMA_VERSION}; {hint}"
        )
    try:
        return Manifest.model_validate(raw)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise SessionError(
            f"{path} does not match the manifest schema ({exc.error_count()} problem(s), "
            f"first at '{where}': {first['msg']}); restore it from a backup"
        ) from exc
