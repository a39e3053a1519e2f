"""Per-session features for curation: numbers that say what happened in a session.

Computed from the session's own streams (force and motion from `state`, contact, depth and
tissue force from `telemetry`, pressure and its background-removed contrast from a `tactile`
stream, where recorded) with numpy/scipy, once per session version:
`FeatureCache` keeps them in the dataset folder (`DIR/catalog/features.parquet`), keyed by
the session id and a fingerprint of its files, so a session is only read again when it
changed. `compute_features` is a pure function of the session's arrays.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from scipy import signal, stats

from haptics.errors import HapticsError, SessionError
from haptics.session.pressure import background_shape, contrast_kpa, in_contact
from haptics.session.reading import Session

FEATURE_VERSION = 2  # 2: tactile features
FEATURES_FILE = Path("catalog") / "features.parquet"

# name → what it measures; the order is the feature vector's order
FEATURES: dict[str, str] = {
    "duration_s": "time span of the device samples (s)",
    "force_mean_n": "mean force magnitude on the device (N)",
    "force_p95_n": "95th percentile of the force magnitude (N)",
    "force_max_n": "largest force magnitude (N)",
    "force_std_n": "standard deviation of the force magnitude (N)",
    "force_peaks_per_s": "force peaks (prominence ≥ 0.1 N) per second",
    "force_kurtosis": "kurtosis of the force magnitude (spiky vs smooth loading)",
    "speed_mean_m_s": "mean tool speed (m/s)",
    "speed_p95_m_s": "95th percentile of the tool speed (m/s)",
    "path_m": "distance the tool travelled (m)",
    "extent_m": "diagonal of the box the tool moved in (m)",
    "contact_fraction": "share of loop ticks in contact with tissue (0 without telemetry)",
    "depth_max_m": "deepest indentation or insertion (m; 0 without telemetry)",
    "tissue_force_max_n": "largest force the tissue model returned (N; 0 without telemetry)",
    "tactile_contact_fraction": "share of tactile frames pressing on tissue (0 without one)",
    "tactile_pressure_max_kpa": "highest taxel pressure (kPa; 0 without a tactile stream)",
    "tactile_contrast_max_kpa": "largest background-removed contrast: a stiff inclusion felt "
    "(kPa; haptics.session.pressure; 0 without a tactile stream)",
    "tactile_contrast_p95_kpa": "95th percentile of that contrast over pressing frames (kPa)",
}
NAMES = list(FEATURES)


def _magnitude(a: dict[str, np.ndarray], x: str, y: str, z: str) -> np.ndarray:
    return np.sqrt(
        a[x].astype(np.float64) ** 2 + a[y].astype(np.float64) ** 2 + a[z].astype(np.float64) ** 2
    )


def tactile_features(frames: np.ndarray) -> dict[str, float]:
    """The tactile features (see FEATURES) of a (frames, rows, cols) stack of pressure
    frames in kPa; all 0 for an empty stack."""
    out = dict.fromkeys(
        ("tactile_contact_fraction", "tactile_pressure_max_kpa", "tactile_contrast_max_kpa",
         "tactile_contrast_p95_kpa"), 0.0,
    )  # fmt: skip
    if frames.size == 0:
        return out
    pressed = in_contact(frames)
    out["tactile_contact_fraction"] = float(pressed.mean())
    out["tactile_pressure_max_kpa"] = float(np.nanmax(np.where(np.isfinite(frames), frames, 0)))
    if pressed.any():
        contrast = contrast_kpa(frames[pressed], background_shape(frames))
        out["tactile_contrast_max_kpa"] = float(np.nanmax(contrast))
        out["tactile_contrast_p95_kpa"] = float(np.nanpercentile(contrast, 95))
    return out


def compute_features(
    state: dict[str, np.ndarray],
    telemetry: dict[str, np.ndarray] | None,
    tactile: np.ndarray | None = None,
) -> dict[str, float]:
    """The feature vector (see FEATURES) of one session's `state` and `telemetry` arrays and
    its tactile pressure frames (None: no tactile stream).

    Raises SessionError if `state` has fewer than two samples.
    """
    t = state["host_time_ns"].astype(np.int64)
    if t.size < 2:
        raise SessionError("the state stream has fewer than two samples; record a longer session")
    duration = max((int(t[-1]) - int(t[0])) / 1e9, 1e-9)
    f = _magnitude(state, "fx", "fy", "fz")
    speed = _magnitude(state, "vx", "vy", "vz")
    pos = np.column_stack([state[c].astype(np.float64) for c in ("px", "py", "pz")])
    steps = np.linalg.norm(np.diff(pos, axis=0), axis=1)
    peaks, _ = signal.find_peaks(f, prominence=0.1)
    kurt = float(stats.kurtosis(f)) if float(np.std(f)) > 0 else 0.0
    out = {
        "duration_s": duration,
        "force_mean_n": float(f.mean()),
        "force_p95_n": float(np.percentile(f, 95)),
        "force_max_n": float(f.max()),
        "force_std_n": float(f.std()),
        "force_peaks_per_s": peaks.size / duration,
        "force_kurtosis": kurt,
        "speed_mean_m_s": float(speed.mean()),
        "speed_p95_m_s": float(np.percentile(speed, 95)),
        "path_m": float(steps.sum()),
        "extent_m": float(np.linalg.norm(pos.max(axis=0) - pos.min(axis=0))),
        "contact_fraction": 0.0,
        "depth_max_m": 0.0,
        "tissue_force_max_n": 0.0,
    }
    if telemetry is not None and telemetry["contact"].size:
        out["contact_fraction"] = float((telemetry["contact"] > 0).mean())
        out["depth_max_m"] = float(np.abs(telemetry["depth_m"]).max())
        out["tissue_force_max_n"] = float(np.abs(telemetry["tissue_force_n"]).max())
    out.update(tactile_features(np.zeros((0, 1, 1)) if tactile is None else tactile))
    return {k: (v if np.isfinite(v) else 0.0) for k, v in out.items()}


def fingerprint(path: Path) -> str:
    """A digest of a session folder's files (names, sizes, modification times): changes
    whenever a file is rewritten, so features and exports know what to redo."""
    h = hashlib.sha256(f"v{FEATURE_VERSION}".encode())
    for p in sorted(path.iterdir()):
        if p.is_file():
            st = p.stat()
            h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def session_features(session: Session) -> dict[str, float]:
    """Features of an opened session; raises SessionError if it cannot be read."""
    try:
        state = session.arrays("state")
        tel = session.arrays("telemetry") if "telemetry" in session.stream_names else None
        tactile = (
            session.column_array("tactile", "pressure_kpa")
            if "tactile" in session.stream_names
            else None
        )
    except HapticsError:
        raise
    except (OSError, KeyError, ValueError, pa.ArrowException) as exc:
        raise SessionError(
            f"{session.path}: cannot read its streams ({exc}); check it with "
            f"`haptics sessions verify {session.path}`"
        ) from exc
    return compute_features(state, tel, tactile)


@dataclass
class FeatureCache:
    """Features kept in the dataset folder, one row per session version."""

    path: Path  # the parquet file

    @classmethod
    def of(cls, dataset_dir: Path) -> FeatureCache:
        return cls(dataset_dir / FEATURES_FILE)

    def load(self) -> dict[str, dict[str, Any]]:
        """session_id → row (fingerprint, provenance, features); empty if never computed."""
        if not self.path.is_file():
            return {}
        return {r["session_id"]: r for r in pq.read_table(self.path).to_pylist()}

    def save(self, rows: dict[str, dict[str, Any]]) -> None:
        """Write every row (atomically: a temporary file moved into place)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".parquet.tmp")
        table = pa.Table.from_pylist(
            [rows[k] for k in sorted(rows)],
            schema=pa.schema(
                [("session_id", pa.string()), ("fingerprint", pa.string()),
                 ("provenance", pa.string())]
                + [(n, pa.float64()) for n in NAMES]
            ),
        )
        pq.write_table(table, tmp)
        tmp.replace(self.path)
