"""`mcap`: one MCAP file per session for Foxglove or Lichtblick.

Every stream is a channel (`/<stream>`, JSON messages, a JSON schema), each row a message
logged at its host time; the label log is the `/labels` channel (each answer at its start,
session-level answers at the session's start); the manifest is attached
(`manifest.json`), and so are the device, scene, loop and clock configs (calibration
included) it carries, one attachment each.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
from mcap.reader import make_reader
from mcap.writer import Writer

from haptics.dataset.export.base import Format, SessionData, expect_equal
from haptics.dataset.export.tables import flat_table, time_column

FILE = "session.mcap"
_JSON_TYPES = {"i": "integer", "u": "integer", "f": "number", "b": "boolean"}


def _schema(table_cols: dict[str, str]) -> bytes:
    props = {c: {"type": _JSON_TYPES.get(k, "string")} for c, k in table_cols.items()}
    return json.dumps({"type": "object", "properties": props}).encode()


def _kind(t: pa.DataType) -> str:
    if pa.types.is_boolean(t):
        return "b"
    if pa.types.is_integer(t):
        return "i"
    return "f" if pa.types.is_floating(t) else "s"


def attachments(manifest_json: str) -> dict[str, bytes]:
    """Name → bytes of the attachments: the manifest, and the device, scene and loop
    configs (calibration included) it carries, each on its own."""
    out = {"manifest.json": manifest_json.encode()}
    m = json.loads(manifest_json)
    for part in ("device", "scene", "loop", "clock"):
        if m.get(part):
            out[f"{part}.json"] = json.dumps(m[part], indent=2).encode()
    return out


def _t0(data: SessionData) -> int:
    starts = [int(t.column(time_column(n))[0].as_py()) for n, t in data.streams.items()
              if t.num_rows and time_column(n) in t.column_names]
    return min(starts) if starts else 0


def write(data: SessionData, out: Path) -> None:
    t0 = _t0(data)
    with open(out / FILE, "wb") as fh:
        w = Writer(fh)
        w.start(profile="", library="haptics")
        for name, table in data.streams.items():
            flat = flat_table(table)
            kinds = {c: _kind(flat.column(c).type) for c in flat.column_names}
            sid = w.register_schema(name=f"haptics.{name}", encoding="jsonschema",
                                    data=_schema(kinds))
            cid = w.register_channel(topic=f"/{name}", message_encoding="json", schema_id=sid)
            times = flat.column(time_column(name)).to_numpy()
            for t, row in zip(times, flat.to_pylist(), strict=True):
                w.add_message(channel_id=cid, log_time=int(t), publish_time=int(t),
                              data=json.dumps(row).encode())
        lid = w.register_channel(
            topic="/labels", message_encoding="json",
            schema_id=w.register_schema(name="haptics.label", encoding="jsonschema",
                                        data=b'{"type": "object"}'),
        )
        for row in data.labels.to_pylist():
            t = int(row["t0_ns"]) if row["t0_ns"] is not None else t0
            w.add_message(channel_id=lid, log_time=t, publish_time=t,
                          data=json.dumps(row).encode())
        for name, blob in attachments(data.manifest_json).items():
            w.add_attachment(create_time=t0, log_time=t0, name=name,
                             media_type="application/json", data=blob)
        w.finish()  # type: ignore[no-untyped-call]


def check(data: SessionData, out: Path) -> None:
    """Read the file back with the mcap reader: messages per channel, sampled rows, the
    manifest attachment."""
    with open(out / FILE, "rb") as fh:
        reader = make_reader(fh)
        summary = reader.get_summary()
        if summary is None or summary.statistics is None:
            expect_equal("mcap summary", None, "present")
            return
        counts = {summary.channels[c].topic: n
                  for c, n in summary.statistics.channel_message_counts.items()}
        for name, table in data.streams.items():
            expect_equal(f"/{name} messages", counts.get(f"/{name}", 0), table.num_rows)
        expect_equal("/labels messages", counts.get("/labels", 0), data.labels.num_rows)
        first: dict[str, dict[str, object]] = {}
        want_topics = {f"/{n}" for n, t in data.streams.items() if t.num_rows}
        for _, channel, message in reader.iter_messages(log_time_order=False):
            if channel.topic not in first:
                first[channel.topic] = json.loads(message.data)
                if want_topics <= first.keys():
                    break
        for name, table in data.streams.items():
            if table.num_rows:
                flat = flat_table(table)
                want = flat.slice(0, 1).to_pylist()[0]
                tc = time_column(name)
                expect_equal(f"/{name} first {tc}", first[f"/{name}"][tc], want[tc])
        names = [a.name for a in reader.iter_attachments()]
        expect_equal("attachments", names, list(attachments(data.manifest_json)))


FORMAT = Format(
    name="mcap",
    version=1,
    write=write,
    check=check,
    layout="sessions/<id>/session.mcap: a JSON channel per stream (/state, /command, "
    "/telemetry, ...), /labels, manifest.json attachment",
    open_with="Foxglove or Lichtblick: Open local file → DIR/sessions/<id>/session.mcap; "
    "`mcap info` in a shell",
)
