"""Label Studio time-series tasks: the pure conversions shared by the export and the import.

The export (`haptics export --format labelstudio`, `haptics.dataset.export.labelstudio`)
turns a session's answers into a task; `haptics labels import --from labelstudio FILE` turns
a Label Studio JSON export back into answers for the store. Both follow these conventions:

- a task's `data` holds `csv` (the signals, a Label Studio local-files URL), `session_id` and
  `time_origin_ns`: the session's first host time over its streams, which is the catalog's
  `start_ns`; the CSV's `time` column is seconds since that origin;
- one `<TimeSeriesLabels>` per taxonomy key, named `<taxonomy>__<key>` (a taxonomy name
  never holds `_`, so the first `__` splits it), one `<Label>` per allowed value
  (`true`/`false` for a boolean key, the numbers of an integer key's range);
- a region's `start`/`end` are seconds since the origin; back on the session clock:
  `origin + round(seconds × 1e9)` ns, exact for sessions shorter than about four weeks;
  an instant is a region with `instant: true` and `start == end`;
- a region written from the store has the id `haptics-<answer id>`: an import skips it while
  it still says what that answer says (it is already in the store).

Label Studio users become our person ids by an explicit map (`--user LS=PERSON`: an email,
username or numeric user id), else by email, username or the email's local part when that is
a registered person; anyone else is refused, by name, before anything is written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from haptics.dataset.store import Answer, NewAnswer
from haptics.dataset.taxonomy import Key
from haptics.errors import LabelError

TS_NAME = "ts"  # the <TimeSeries> object tag every control labels
CSV_FIELD = "csv"  # task data field with the CSV's URL (`value="$csv"`)
TIME_COLUMN = "time"  # seconds since the session's time origin
RESULT_TYPE = "timeserieslabels"
REGION_PREFIX = "haptics-"  # id of a region written from the store: haptics-<answer id>
SEPARATOR = "__"
TARGETS = ("interval", "instant")  # what a time-series region can say (not session keys)


# -- names, times and values -------------------------------------------------------------------
def control_name(taxonomy: str, key: str) -> str:
    """The `<TimeSeriesLabels name=...>` of one taxonomy key."""
    return f"{taxonomy}{SEPARATOR}{key}"


def split_control_name(name: str) -> tuple[str, str]:
    """(taxonomy, key) of a control name; raises LabelError for a name we did not write."""
    taxonomy, sep, key = name.partition(SEPARATOR)
    if not sep or not taxonomy or not key:
        raise LabelError(
            f"'{name}' is not a control of a haptics label config (<taxonomy>{SEPARATOR}<key>); "
            "label in a project set up with the exported label_config.xml"
        )
    return taxonomy, key


def to_seconds(t_ns: int, origin_ns: int) -> float:
    """A host time (ns) as seconds since the session's time origin."""
    return (t_ns - origin_ns) / 1e9


def to_ns(seconds: float, origin_ns: int) -> int:
    """Seconds since the time origin back to a host time (ns): the inverse of to_seconds."""
    return origin_ns + round(seconds * 1e9)


def label_text(value: Any) -> str:
    """A stored answer value as a Label Studio `<Label value>`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def key_labels(key: Key) -> list[str]:
    """The labels of a taxonomy key, in its order (empty for an unbounded number key)."""
    return [label_text(v) for v in key.domain()] if key.target in TARGETS else []


# -- export: answers → a task ------------------------------------------------------------------
def current_rows(rows: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The label log rows no later row supersedes, that a time-series region can show."""
    rows = list(rows)
    superseded = {r["supersedes"] for r in rows if r.get("supersedes") is not None}
    return [
        r for r in rows
        if r["id"] not in superseded and r["target"] in TARGETS and r["t0_ns"] is not None
    ]


def row_value(row: Mapping[str, Any]) -> Any:
    """A label row's value (stored as JSON text in export tables)."""
    v = row["value"]
    return json.loads(v) if isinstance(v, str) else v


def region(row: Mapping[str, Any], origin_ns: int) -> dict[str, Any]:
    """The Label Studio result (a `timeserieslabels` region) of one label row."""
    t0: int = row["t0_ns"]
    t1: int | None = row["t1_ns"]
    start = to_seconds(t0, origin_ns)
    out: dict[str, Any] = {
        "id": f"{REGION_PREFIX}{row['id']}",
        "from_name": control_name(row["taxonomy"], row["key"]),
        "to_name": TS_NAME,
        "type": RESULT_TYPE,
        "value": {
            "start": start,
            "end": start if t1 is None else to_seconds(t1, origin_ns),
            "instant": t1 is None,
            "timeserieslabels": [label_text(row_value(row))],
        },
    }
    if row.get("confidence") is not None:
        out["score"] = float(row["confidence"])
    return out


def model_version(row: Mapping[str, Any]) -> str:
    """A prediction's `model_version`: detector@version where the row names them."""
    if row.get("detector"):
        version = row.get("detector_version")
        return f"{row['detector']}@{version}" if version else str(row["detector"])
    return str(row["annotator_id"])


def model_predictions(rows: Sequence[Mapping[str, Any]], origin_ns: int) -> list[dict[str, Any]]:
    """One prediction per model (role `model`): its regions, its version, its mean score."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        if r["role"] == "model":
            groups.setdefault(model_version(r), []).append(r)
    out = []
    for version, group in groups.items():
        pred: dict[str, Any] = {
            "model_version": version,
            "result": [region(r, origin_ns) for r in group],
        }
        scores = [float(r["confidence"]) for r in group if r.get("confidence") is not None]
        if scores:
            pred["score"] = sum(scores) / len(scores)
        out.append(pred)
    return out


def human_annotations(rows: Sequence[Mapping[str, Any]], origin_ns: int) -> list[dict[str, Any]]:
    """One annotation per person (every role but `model`) with their current regions."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        if r["role"] != "model":
            groups.setdefault(str(r["annotator_id"]), []).append(r)
    return [{"result": [region(r, origin_ns) for r in group]} for group in groups.values()]


def build_task(
    session_id: str, origin_ns: int, csv_url: str, rows: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """A Label Studio task (import JSON) for one session: its data, model answers as
    predictions, people's answers as annotations (current answers with a time only)."""
    shown = current_rows(rows)
    controls = sorted({control_name(r["taxonomy"], r["key"]) for r in shown})
    return {
        "data": {CSV_FIELD: csv_url, "session_id": session_id, "time_origin_ns": origin_ns},
        "meta": {"source": "haptics", "session_id": session_id, "controls": controls},
        "predictions": model_predictions(shown, origin_ns),
        "annotations": human_annotations(shown, origin_ns),
    }


# -- import: a Label Studio export → answers ---------------------------------------------------
@dataclass(frozen=True)
class LsUser:
    """Who completed an annotation, as Label Studio names them."""

    id: str | None = None
    email: str | None = None
    username: str | None = None

    def names(self) -> list[str]:
        """What may be a person id of ours, most specific first."""
        out = [n for n in (self.email, self.username) if n]
        if self.email and "@" in self.email:
            out.append(self.email.split("@", 1)[0])
        return out

    def map_keys(self) -> list[str]:
        """What a `--user LS=PERSON` entry may name this user by."""
        return [n for n in (self.email, self.username, self.id) if n]

    def __str__(self) -> str:
        return self.email or self.username or f"user id {self.id}"


@dataclass(frozen=True)
class LsRegion:
    """One labelled region of a Label Studio annotation, on the session clock."""

    where: str  # e.g. "task 2, annotation 1, region 'abc'" (for messages)
    region_id: str | None
    session_id: str
    taxonomy: str
    key: str
    label: str
    t0_ns: int
    t1_ns: int | None  # None: an instant
    user: LsUser


def parse_export(text: str, source: str = "<export>") -> list[dict[str, Any]]:
    """The tasks of a Label Studio JSON export; raises LabelError for anything else."""
    try:
        tasks = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LabelError(f"{source} is not JSON ({exc}); nothing was written") from exc
    if isinstance(tasks, dict):
        tasks = [tasks]
    if not isinstance(tasks, list) or not all(isinstance(t, dict) for t in tasks):
        raise LabelError(
            f"{source}: expected Label Studio's JSON export (a list of tasks); nothing was written"
        )
    return tasks


def user_of(annotation: Mapping[str, Any]) -> LsUser:
    """The user of an annotation: `completed_by` (an id, or an object with id, email,
    username), with the email of `created_username` ("email, id") where Label Studio adds it."""
    by = annotation.get("completed_by")
    email = username = uid = None
    if isinstance(by, Mapping):
        email, username = by.get("email") or None, by.get("username") or None
        uid = None if by.get("id") is None else str(by["id"])
    elif by is not None:
        uid = str(by)
    created = annotation.get("created_username")
    if not email and isinstance(created, str) and "@" in created:
        email = created.split(",", 1)[0].strip() or None
    return LsUser(uid, email, username)


def _number(value: Any, what: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        x = math.nan
    if not math.isfinite(x):
        raise LabelError(f"{what} is {value!r}, not a number of seconds; nothing was written")
    return x


def task_origin(task: Mapping[str, Any], where: str, origins: Mapping[str, int]) -> tuple[str, int]:
    """(session id, time origin ns) of a task: from its data (meta as a fallback), the
    catalog's session start when the task carries no origin."""
    data = task.get("data") or {}
    meta = task.get("meta") or {}
    sid = data.get("session_id") or meta.get("session_id")
    if not sid:
        raise LabelError(
            f"{where} has no data.session_id: import tasks exported with "
            "`haptics export --format labelstudio`; nothing was written"
        )
    origin = data.get("time_origin_ns")
    if origin is None:
        if str(sid) not in origins:
            raise LabelError(
                f"{where}: session '{sid}' is not in the dataset's catalog; nothing was written"
            )
        return str(sid), origins[str(sid)]
    return str(sid), int(origin)


def parse_region(
    result: Mapping[str, Any], where: str, session_id: str, origin_ns: int, user: LsUser
) -> LsRegion:
    """One `timeserieslabels` result as a region on the session clock."""
    taxonomy, key = split_control_name(str(result.get("from_name", "")))
    value = result.get("value") or {}
    labels = value.get("timeserieslabels")
    if not isinstance(labels, list) or len(labels) != 1 or not isinstance(labels[0], str):
        raise LabelError(
            f"{where}: a region carries exactly one label, found {labels!r}; nothing was written"
        )
    start = _number(value.get("start"), f"{where}: start")
    end = _number(value.get("end", start), f"{where}: end")
    instant = bool(value.get("instant")) or end == start
    rid = result.get("id")
    return LsRegion(
        where=where,
        region_id=None if rid is None else str(rid),
        session_id=session_id,
        taxonomy=taxonomy,
        key=key,
        label=labels[0],
        t0_ns=to_ns(start, origin_ns),
        t1_ns=None if instant else to_ns(end, origin_ns),
        user=user,
    )


def regions(tasks: Sequence[Mapping[str, Any]], origins: Mapping[str, int]) -> list[LsRegion]:
    """Every region of every submitted (not cancelled) annotation; predictions are ours and
    are left out, and so are results of other control types. Raises LabelError naming the
    first malformed task or region."""
    out = []
    for ti, task in enumerate(tasks, 1):
        anns = task.get("annotations") or []
        if not anns:
            continue
        sid, origin = task_origin(task, f"task {task.get('id', ti)}", origins)
        for ai, ann in enumerate(anns, 1):
            if not isinstance(ann, Mapping) or ann.get("was_cancelled"):
                continue
            user = user_of(ann)
            for ri, res in enumerate(ann.get("result") or [], 1):
                if not isinstance(res, Mapping) or res.get("type") != RESULT_TYPE:
                    continue
                where = (f"task {task.get('id', ti)}, annotation {ann.get('id', ai)}, "
                         f"region {res.get('id', ri)!r}")
                out.append(parse_region(res, where, sid, origin, user))
    return out


def parse_user_map(entries: Iterable[str]) -> dict[str, str]:
    """`LS=PERSON` entries (an email, username or user id = our person id) as a dict."""
    out = {}
    for e in entries:
        ls, sep, person = e.partition("=")
        if not sep or not ls.strip() or not person.strip():
            raise LabelError(f"--user '{e}': write LABEL_STUDIO_USER=PERSON_ID")
        out[ls.strip()] = person.strip()
    return out


def resolve_people(
    users: Iterable[LsUser], people: Collection[str], user_map: Mapping[str, str]
) -> dict[LsUser, str]:
    """Our person id for every Label Studio user; raises LabelError naming everyone who
    cannot be matched (nothing is written)."""
    out: dict[LsUser, str] = {}
    unknown: list[str] = []
    for u in dict.fromkeys(users):
        mapped = [user_map[k] for k in u.map_keys() if k in user_map]
        found = mapped[0] if mapped else next((n for n in u.names() if n in people), None)
        if found is None or found not in people:
            unknown.append(str(u) if found is None else f"{u} (mapped to unknown '{found}')")
        else:
            out[u] = found
    if unknown:
        raise LabelError(
            f"unknown Label Studio user(s): {', '.join(sorted(unknown))}; register them "
            "(`haptics labels people add DIR ID --role annotator`) or map them with "
            "--user EMAIL=PERSON_ID; nothing was written"
        )
    return out


def _same(a: Answer, r: LsRegion) -> bool:
    return (a.session_id, a.taxonomy, a.key, a.t0_ns, a.t1_ns) == (
        r.session_id, r.taxonomy, r.key, r.t0_ns, r.t1_ns
    ) and label_text(a.value) == r.label


def drop_exported(
    found: Sequence[LsRegion], existing: Sequence[Answer]
) -> tuple[list[LsRegion], int]:
    """The regions less those written from the store (id `haptics-<answer id>`) that still
    say what their answer says, and how many those were: they are in the store already,
    whoever Label Studio now shows as their author."""
    by_id = {a.id: a for a in existing}
    out = []
    for r in found:
        src = (r.region_id or "").removeprefix(REGION_PREFIX)
        if (r.region_id or "").startswith(REGION_PREFIX) and src.isdigit() \
                and int(src) in by_id and _same(by_id[int(src)], r):
            continue
        out.append(r)
    return out, len(found) - len(out)


def new_answers(
    found: Sequence[LsRegion], people: Mapping[LsUser, str], existing: Sequence[Answer]
) -> tuple[list[tuple[str, NewAnswer, str]], dict[str, int]]:
    """(person, answer, where) to append for each region, and how many were skipped as
    answers the store already has from the same person (a repeated import) or repeats
    within the file. Nothing is overwritten: the store is append-only."""
    have = {(a.annotator_id, a.session_id, a.taxonomy, a.key, a.t0_ns, a.t1_ns,
             label_text(a.value)) for a in existing}
    skipped = {"already in the store": 0, "repeated": 0}
    out: list[tuple[str, NewAnswer, str]] = []
    for r in found:
        person = people[r.user]
        sig = (person, r.session_id, r.taxonomy, r.key, r.t0_ns, r.t1_ns, r.label)
        if sig in have:
            in_store = any(a.annotator_id == person and _same(a, r) for a in existing)
            skipped["already in the store" if in_store else "repeated"] += 1
            continue
        have.add(sig)
        out.append((person, NewAnswer(r.session_id, r.taxonomy, r.key, r.label,
                                      t0_ns=r.t0_ns, t1_ns=r.t1_ns), r.where))
    return out, skipped
