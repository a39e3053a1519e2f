"""`hdf5`: one file per session in the layout ALOHA/ACT and robomimic training scripts read.

`sessions/<id>/episode.hdf5` holds, per device sample (the `state` stream's rows):
- ALOHA/ACT: `/observations/qpos` (N, 3) tool position, `/observations/qvel` (N, 3)
  velocity, `/observations/effort` (N, 3) measured force, `/action` (N, 3) the force
  commanded at that time (the latest command at or before the sample), root attribute `sim`;
- robomimic: `/data/demo_0/obs/{eef_pos,eef_vel,force}`, `/data/demo_0/actions`, attribute
  `num_samples`, `/data` attributes `total` and `env_args` (JSON);
- everything else: `/haptics/<stream>/<column>` (every stream, every column, flat) and the
  label log as `/haptics/labels` (JSON lines), the manifest as root attribute `manifest`.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from haptics.dataset.curation import is_simulated
from haptics.dataset.export.base import Format, SessionData, expect_equal, sample_rows
from haptics.dataset.export.tables import flat_table, time_column

FILE = "episode.hdf5"


def _cols(data: SessionData, stream: str, cols: tuple[str, str, str]) -> np.ndarray:
    t = data.streams[stream]
    return np.column_stack([t.column(c).to_numpy().astype(np.float64) for c in cols])


def arrays(data: SessionData) -> dict[str, np.ndarray]:
    """qpos, qvel, effort and action (N × 3 each) on the state stream's samples."""
    qpos = _cols(data, "state", ("px", "py", "pz"))
    action = np.zeros_like(qpos)
    if "command" in data.streams and data.streams["command"].num_rows:
        cmd = _cols(data, "command", ("fx", "fy", "fz"))
        ct = data.streams["command"].column("host_time_ns").to_numpy()
        st = data.streams["state"].column("host_time_ns").to_numpy()
        i = np.searchsorted(ct, st, side="right") - 1
        have = i >= 0
        action[have] = cmd[i[have]]
    return {
        "qpos": qpos,
        "qvel": _cols(data, "state", ("vx", "vy", "vz")),
        "effort": _cols(data, "state", ("fx", "fy", "fz")),
        "action": action,
    }


def write(data: SessionData, out: Path) -> None:
    a = arrays(data)
    with h5py.File(out / FILE, "w") as f:
        f.attrs["sim"] = is_simulated(data.provenance)
        f.attrs["manifest"] = data.manifest_json
        f.attrs["session_id"] = data.session_id
        f.create_dataset("observations/qpos", data=a["qpos"])
        f.create_dataset("observations/qvel", data=a["qvel"])
        f.create_dataset("observations/effort", data=a["effort"])
        f.create_dataset("action", data=a["action"])
        demo = f.create_group("data/demo_0")
        demo.attrs["num_samples"] = a["qpos"].shape[0]
        demo.create_dataset("obs/eef_pos", data=a["qpos"])
        demo.create_dataset("obs/eef_vel", data=a["qvel"])
        demo.create_dataset("obs/force", data=a["effort"])
        demo.create_dataset("actions", data=a["action"])
        f["data"].attrs["total"] = a["qpos"].shape[0]
        f["data"].attrs["env_args"] = json.dumps({"env_name": "haptics", "type": 0,
                                                  "env_kwargs": {}})
        for name, table in data.streams.items():
            flat = flat_table(table)
            for col in flat.column_names:
                f.create_dataset(f"haptics/{name}/{col}", data=flat.column(col).to_numpy(),
                                 compression="gzip", compression_opts=1)
            f[f"haptics/{name}"].attrs["time_column"] = time_column(name)
        lines = [json.dumps(r) for r in data.labels.to_pylist()]
        f.create_dataset("haptics/labels", data=np.array(lines, dtype=h5py.string_dtype()))


def check(data: SessionData, out: Path) -> None:
    """Read the file back with h5py: shapes of the training arrays, sampled values of every
    stream column, label count."""
    a = arrays(data)
    with h5py.File(out / FILE, "r") as f:
        for key, want in (("observations/qpos", a["qpos"]), ("action", a["action"]),
                          ("data/demo_0/obs/force", a["effort"])):
            got = f[key]
            expect_equal(f"{key} shape", tuple(got.shape), want.shape)
            for i in sample_rows(want.shape[0]):
                expect_equal(f"{key}[{i}]", list(got[i]), list(want[i]))
        for name, table in data.streams.items():
            flat = flat_table(table)
            for col in flat.column_names:
                ds = f[f"haptics/{name}/{col}"]
                expect_equal(f"{name}.{col} rows", ds.shape[0], flat.num_rows)
                for i in sample_rows(flat.num_rows):
                    expect_equal(f"{name}.{col}[{i}]", ds[i].item(),
                                 flat.column(col)[i].as_py())
        expect_equal("label rows", f["haptics/labels"].shape[0], data.labels.num_rows)


FORMAT = Format(
    name="hdf5",
    version=1,
    write=write,
    check=check,
    layout="sessions/<id>/episode.hdf5: ALOHA/ACT (/observations/qpos, qvel, effort, "
    "/action, attr sim), robomimic (/data/demo_0/obs, actions), /haptics/<stream>/<column>",
    open_with="h5py.File('DIR/sessions/<id>/episode.hdf5'); ACT's load_data reads "
    "/observations/qpos and /action; HDFView shows the tree",
)
