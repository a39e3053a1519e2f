"""`haptics labels ...`: pre-label, assign, answer, review and measure agreement.

Every command works on a dataset folder (`haptics dataset init DIR`) and is made *as*
someone (`--as ID`, registered with `haptics labels people add`): the store checks what that
person may see and do. Times on the command line are seconds from the session's start;
the store keeps host time in ns. Every command takes `--json`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from haptics.cli.commands import summary
from haptics.dataset import labelstudio, views
from haptics.dataset.agreement import agreement
from haptics.dataset.catalog import Dataset, open_dataset
from haptics.dataset.prelabel import SOURCES, prelabel
from haptics.dataset.review import review_queue
from haptics.dataset.schema import ROLES
from haptics.dataset.store import Answer, Item, LabelStore, NewAnswer, Review
from haptics.errors import LabelError

Handler = Callable[[argparse.Namespace], int]


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("labels", help=summary("labels"))
    ls = p.add_subparsers(dest="labels_cmd", required=True)

    def cmd(name: str, help_text: str, func: Handler, who: bool = True) -> argparse.ArgumentParser:
        c = ls.add_parser(name, help=help_text)
        c.add_argument("dir", type=Path, help="the dataset folder")
        c.add_argument("--db", default=None, help="use this store instead of dataset.toml's")
        if who:
            c.add_argument("--as", dest="person", required=True, help="who is asking (id)")
        c.add_argument("--json", action="store_true")
        c.set_defaults(func=func)
        return c

    people = ls.add_parser("people", help="register annotators, reviewers and admins")
    pp = people.add_subparsers(dest="people_cmd", required=True)
    padd = pp.add_parser("add", help="register someone with a role")
    padd.add_argument("dir", type=Path)
    padd.add_argument("person_id")
    padd.add_argument("--role", choices=ROLES, required=True)
    padd.add_argument("--db", default=None)
    padd.add_argument("--json", action="store_true")
    padd.set_defaults(func=cmd_people_add)
    plist = pp.add_parser("list", help="everyone registered")
    plist.add_argument("dir", type=Path)
    plist.add_argument("--db", default=None)
    plist.add_argument("--json", action="store_true")
    plist.set_defaults(func=cmd_people_list)

    c = cmd(
        "prelabel", "model answers from ground truth and force detectors", cmd_prelabel, who=False
    )
    c.add_argument("--session", action="append", default=None, help="only these (repeat)")
    c.add_argument("--source", action="append", choices=list(SOURCES), default=None)

    c = cmd("assign", "give each item to as many annotators as its key asks", cmd_assign)
    c.add_argument("--annotators", required=True, help="comma-separated annotator ids")
    c.add_argument("--taxonomy", required=True)
    c.add_argument("--key", action="append", default=None, help="default: every key")
    c.add_argument("--session", action="append", default=None, help="default: every session")

    c = cmd("add", "add one answer", cmd_add)
    c.add_argument("--session", required=True)
    c.add_argument("--taxonomy", required=True)
    c.add_argument("--key", required=True)
    c.add_argument("--value", required=True, help="a category, number or true/false")
    c.add_argument("--t0", type=float, default=None, help="interval start or instant, s")
    c.add_argument("--t1", type=float, default=None, help="interval end, s")
    c.add_argument("--supersedes", type=int, default=None, help="your answer this replaces")
    c.add_argument("--rationale", default=None)

    c = cmd("import", "add answers from a JSON or JSON-lines file (all or none)", cmd_import)
    c.add_argument("file", type=Path)
    c.add_argument(
        "--from",
        dest="source",
        choices=("haptics", "labelstudio"),
        default="haptics",
        help="the file's format: our answer rows (default), or a Label Studio JSON export "
        "of tasks from `haptics export --format labelstudio` (answers by their annotators)",
    )
    c.add_argument(
        "--user",
        action="append",
        default=[],
        metavar="LS=PERSON",
        help="(labelstudio) map a Label Studio user (email, username or id) to a person id; "
        "default: the person whose id is their email, username or email's local part",
    )

    cmd("queue", "your queue: items to label, or (reviewers) to review", cmd_queue)

    c = cmd("review", "accept, correct or send back; without an action, work the queue", cmd_review)
    c.add_argument("--accept", type=int, default=None, metavar="ANSWER_ID")
    c.add_argument("--correct", type=int, default=None, metavar="ANSWER_ID")
    c.add_argument("--value", default=None, help="the corrected value (with --correct)")
    c.add_argument("--t0", type=float, default=None, help="corrected start or instant, s")
    c.add_argument("--t1", type=float, default=None, help="corrected end, s")
    c.add_argument("--send-back", default=None, metavar="SESSION/TAXONOMY/KEY")
    c.add_argument("--annotator", default=None, help="whose work goes back (with --send-back)")
    c.add_argument("--rationale", default=None)

    c = cmd("stats", "Krippendorff's alpha per key, per pair and per time window", cmd_stats)
    c.add_argument("--grid-ms", type=float, default=10.0, help="time grid (default 10 ms)")
    c.add_argument("--window-s", type=float, default=1.0, help="window (default 1 s)")

    c = cmd("show", "answers you may see, with gold and distribution for reviewers", cmd_show)
    c.add_argument("--session", default=None)
    c.add_argument("--taxonomy", default=None)
    c.add_argument("--key", default=None)

    cmd("log", "every answer and review you may see, oldest first", cmd_log)


# -- helpers -----------------------------------------------------------------------------------
def _open(args: argparse.Namespace) -> Dataset:
    return open_dataset(args.dir, args.db)


def _dump(obj: Any) -> None:
    def default(o: Any) -> Any:
        if isinstance(o, Item):
            return {"session_id": o.session_id, "taxonomy": o.taxonomy, "key": o.key}
        if isinstance(o, Answer | Review):
            return o.as_dict()
        return str(o)

    print(json.dumps(obj, indent=2, default=default))


def parse_value(text: str) -> Any:
    """A command-line value: JSON when it parses (3, 2.5, true), else the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_item(text: str) -> Item:
    """SESSION/TAXONOMY/KEY; raises LabelError for anything else."""
    parts = text.split("/")
    if len(parts) != 3 or not all(parts):
        raise LabelError(f"'{text}' is not an item; write SESSION/TAXONOMY/KEY")
    return Item(*parts)


def _ns(store: LabelStore, session_id: str, seconds: float | None) -> int | None:
    if seconds is None:
        return None
    return store.session(session_id).start_ns + round(seconds * 1e9)


def _rel_s(store: LabelStore, a: Answer) -> tuple[float | None, float | None]:
    try:
        start = store.session(a.session_id).start_ns
    except LabelError:
        return None, None
    t0 = None if a.t0_ns is None else round((a.t0_ns - start) / 1e9, 4)
    t1 = None if a.t1_ns is None else round((a.t1_ns - start) / 1e9, 4)
    return t0, t1


def _answer_rows(store: LabelStore, answers: list[Answer]) -> list[dict[str, Any]]:
    rows = []
    for a in answers:
        d = a.as_dict()
        d["t0_s"], d["t1_s"] = _rel_s(store, a)
        rows.append(d)
    return rows


def _print_answers(console: Console, rows: list[dict[str, Any]], title: str) -> None:
    table = Table(title=title)
    for col in ("id", "item", "t0 s", "t1 s", "value", "who", "role", "supersedes", "note"):
        table.add_column(col)
    for r in rows:
        note = r["rationale"] or ""
        if r["detector"]:
            note = f"{r['detector']} {r['detector_version']} conf {r['confidence']}"
        table.add_row(
            str(r["id"]),
            f"{r['session_id']}/{r['taxonomy']}/{r['key']}",
            "" if r["t0_s"] is None else f"{r['t0_s']:.3f}",
            "" if r["t1_s"] is None else f"{r['t1_s']:.3f}",
            json.dumps(r["value"]),
            r["annotator_id"],
            r["role"],
            "" if r["supersedes"] is None else str(r["supersedes"]),
            note,
        )
    console.print(table)


# -- commands ----------------------------------------------------------------------------------
def cmd_people_add(args: argparse.Namespace) -> int:
    with _open(args) as ds:
        ds.store.add_person(args.person_id, args.role)
    if args.json:
        _dump({"person_id": args.person_id, "role": args.role})
    else:
        Console().print(f"{args.person_id}: {args.role}")
    return 0


def cmd_people_list(args: argparse.Namespace) -> int:
    with _open(args) as ds:
        rows = ds.store.people()
    if args.json:
        _dump(rows)
    else:
        for r in rows:
            print(f"{r['person_id']}\t{r['role']}")
    return 0


def cmd_prelabel(args: argparse.Namespace) -> int:
    with _open(args) as ds:
        written = prelabel(ds, args.session, args.source or list(SOURCES))
    if args.json:
        _dump({"written": written})
    else:
        Console().print("pre-labels written: " + ", ".join(f"{k} {v}" for k, v in written.items()))
    return 0


def cmd_assign(args: argparse.Namespace) -> int:
    with _open(args) as ds:
        store = ds.store
        tax = store.taxonomy(args.taxonomy)
        keys = args.key or list(tax.keys)
        for k in keys:
            tax.key(k)
        sids = args.session or [r.session_id for r in store.sessions()]
        annotators = [a.strip() for a in args.annotators.split(",") if a.strip()]
        items = [Item(s, tax.name, k) for s in sids for k in keys]
        new = store.assign(items, annotators, args.person)
    if args.json:
        _dump({"assigned": [{"item": i, "annotator": a} for i, a in new]})
    else:
        Console().print(f"{len(new)} new assignment(s) over {len(items)} item(s)")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    with _open(args) as ds:
        store = ds.store
        ans = NewAnswer(
            args.session,
            args.taxonomy,
            args.key,
            parse_value(args.value),
            t0_ns=_ns(store, args.session, args.t0),
            t1_ns=_ns(store, args.session, args.t1),
            supersedes=args.supersedes,
            rationale=args.rationale,
        )
        aid = store.add_answer(ans, args.person)
    if args.json:
        _dump({"id": aid})
    else:
        Console().print(f"answer {aid} added")
    return 0


def _read_import(path: Path) -> list[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise LabelError(f"cannot read {path}: {exc}") from exc
    try:
        if text.lstrip().startswith("["):
            rows = json.loads(text)
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise LabelError(f"{path} is not JSON or JSON lines ({exc}); nothing was written") from exc
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise LabelError(f"{path}: expected a list of objects, one per answer")
    return rows


FIELDS = {
    "session_id",
    "taxonomy",
    "key",
    "value",
    "t0_s",
    "t1_s",
    "t0_ns",
    "t1_ns",
    "supersedes",
    "rationale",
}


def cmd_import(args: argparse.Namespace) -> int:
    if args.source == "labelstudio":
        return cmd_import_labelstudio(args)
    if args.user:
        raise LabelError("--user maps Label Studio users: use it with --from labelstudio")
    rows = _read_import(args.file)
    with _open(args) as ds:
        store = ds.store
        new = []
        for i, r in enumerate(rows, 1):
            extra = set(r) - FIELDS
            missing = {"session_id", "taxonomy", "key", "value"} - set(r)
            if extra or missing:
                raise LabelError(
                    f"{args.file} answer {i}: "
                    + (f"unknown field(s) {sorted(extra)} " if extra else "")
                    + (f"missing {sorted(missing)} " if missing else "")
                    + f"(fields: {sorted(FIELDS)}); nothing was written"
                )
            sid = str(r["session_id"])
            t0 = r.get("t0_ns", _ns(store, sid, r.get("t0_s")))
            t1 = r.get("t1_ns", _ns(store, sid, r.get("t1_s")))
            new.append(
                NewAnswer(
                    sid,
                    r["taxonomy"],
                    r["key"],
                    r["value"],
                    t0_ns=t0,
                    t1_ns=t1,
                    supersedes=r.get("supersedes"),
                    rationale=r.get("rationale"),
                )
            )
        ids = store.add_answers(new, args.person)
    if args.json:
        _dump({"ids": ids})
    else:
        Console().print(f"{len(ids)} answer(s) imported")
    return 0


def cmd_import_labelstudio(args: argparse.Namespace) -> int:
    """`labels import --from labelstudio`: every region of every submitted annotation of a
    Label Studio JSON export becomes an answer by its annotator (all or none); regions the
    store already has are skipped. Importing other people's answers takes a reviewer or
    an admin (--as)."""
    try:
        text = args.file.read_text(encoding="utf-8")
    except OSError as exc:
        raise LabelError(f"cannot read {args.file}: {exc}") from exc
    tasks = labelstudio.parse_export(text, str(args.file))
    user_map = labelstudio.parse_user_map(args.user)
    with _open(args) as ds:
        store = ds.store
        store.role_of(args.person)
        origins = {r.session_id: r.start_ns for r in store.sessions()}
        existing = store.log_tables()[0]
        found, unchanged = labelstudio.drop_exported(labelstudio.regions(tasks, origins), existing)
        people = labelstudio.resolve_people(
            [r.user for r in found], [p["person_id"] for p in store.people()], user_map
        )
        new, skipped = labelstudio.new_answers(found, people, existing)
        skipped = {"exported unchanged": unchanged, **skipped}
        others = sorted({person for person, _, _ in new if person != args.person})
        if others and store.role_of(args.person) not in ("reviewer", "admin"):
            raise LabelError(
                f"the export holds answers by {', '.join(others)}; importing other people's "
                f"answers takes a reviewer or an admin (--as), '{args.person}' is a "
                f"{store.role_of(args.person)}; nothing was written"
            )
        ids = store.add_answers_by(new) if new else []
    by_person: dict[str, int] = {}
    for person, _, _ in new:
        by_person[person] = by_person.get(person, 0) + 1
    if args.json:
        _dump({"ids": ids, "by_person": by_person, "skipped": skipped})
    else:
        Console().print(
            f"{len(ids)} answer(s) imported"
            + "".join(f"; {p} {n}" for p, n in sorted(by_person.items()))
            + "".join(f"; skipped {n} {why}" for why, n in skipped.items() if n)
        )
    return 0


def _queue_rows(ds: Dataset, person: str) -> list[dict[str, Any]]:
    store = ds.store
    if store.role_of(person) in ("reviewer", "admin"):
        return [
            {"item": e["item"], "reasons": e["reasons"], "tier": e["tier"]}
            for e in review_queue(store)
        ]
    return [
        {"item": e["item"], "reasons": [e["reason"]] + ([e["rationale"]] if e["rationale"] else [])}
        for e in store.queue(person)
    ]


def cmd_queue(args: argparse.Namespace) -> int:
    with _open(args) as ds:
        rows = _queue_rows(ds, args.person)
    if args.json:
        _dump(rows)
        return 0
    table = Table(title=f"queue of {args.person}: {len(rows)} item(s)")
    table.add_column("item")
    table.add_column("why")
    for r in rows:
        table.add_row(str(r["item"]), "; ".join(r["reasons"]))
    Console().print(table)
    return 0


def _do_review(store: LabelStore, args: argparse.Namespace) -> dict[str, Any]:
    if args.accept is not None:
        rid = store.accept(args.accept, args.person, args.rationale)
        return {"decision": "accepted", "answer_id": args.accept, "review_id": rid}
    if args.correct is not None:
        if args.value is None:
            raise LabelError("--correct needs --value (and --rationale); nothing written")
        old = [a for a in store.answers(args.person) if a.id == args.correct]
        sid = old[0].session_id if old else ""
        new_id, rid = store.correct(
            args.correct,
            parse_value(args.value),
            args.rationale or "",
            args.person,
            t0_ns=_ns(store, sid, args.t0) if old else None,
            t1_ns=_ns(store, sid, args.t1) if old else None,
        )
        return {
            "decision": "corrected",
            "answer_id": new_id,
            "supersedes": args.correct,
            "review_id": rid,
        }
    item = parse_item(args.send_back)
    if not args.annotator:
        raise LabelError("--send-back needs --annotator (whose work) and --rationale")
    rid = store.send_back(item, args.annotator, args.rationale or "", args.person)
    return {"decision": "rework", "item": item, "annotator": args.annotator, "review_id": rid}


def cmd_review(args: argparse.Namespace) -> int:
    actions = [args.accept is not None, args.correct is not None, args.send_back is not None]
    if sum(actions) > 1:
        raise LabelError("give one of --accept, --correct, --send-back")
    with _open(args) as ds:
        if any(actions):
            out = _do_review(ds.store, args)
            if args.json:
                _dump(out)
            else:
                Console().print(f"review {out['review_id']}: {out['decision']}")
            return 0
        return work_queue(ds, args.person, sys.stdin, as_json=args.json)


HELP = (
    "a ID [why]  accept answer ID · c ID VALUE why...  correct it · "
    "s ANNOTATOR why...  send back · n  next item · q  quit"
)


def work_queue(ds: Dataset, person: str, stdin: TextIO, as_json: bool = False) -> int:
    """Work the reviewers' queue from the terminal: one item at a time, its answers and
    distribution, then a command line (see HELP). Refused choices print why and ask again."""
    store = ds.store
    if store.role_of(person) not in ("reviewer", "admin"):
        raise LabelError(f"'{person}' is not a reviewer; only reviewers work the review queue")
    console = Console()
    done: list[dict[str, Any]] = []
    for entry in review_queue(store):
        item: Item = entry["item"]
        answers = store.answers(person, item=item)
        if not as_json:
            console.print(f"\n[bold]{item}[/]  " + "; ".join(entry["reasons"]))
            _print_answers(console, _answer_rows(store, views.effective(answers)), "answers")
            dist = views.distribution(answers).get(item, {})
            console.print("distribution: " + ", ".join(f"{v} ×{n}" for v, n in dist.items()))
            console.print(HELP)
        while True:
            line = stdin.readline()
            if not line or line.strip() == "q":
                _finish(done, as_json)
                return 0
            parts = line.strip().split(maxsplit=3)
            if not parts:
                continue
            try:
                if parts[0] == "n":
                    break
                if parts[0] == "a" and len(parts) >= 2:
                    rid = store.accept(int(parts[1]), person, " ".join(parts[2:]) or None)
                    done.append({"item": item, "decision": "accepted", "review_id": rid})
                    break
                if parts[0] == "c" and len(parts) >= 4:
                    new_id, rid = store.correct(
                        int(parts[1]), parse_value(parts[2]), parts[3], person
                    )
                    done.append(
                        {
                            "item": item,
                            "decision": "corrected",
                            "review_id": rid,
                            "answer_id": new_id,
                        }
                    )
                    break
                if parts[0] == "s" and len(parts) >= 3:
                    rid = store.send_back(item, parts[1], " ".join(parts[2:]), person)
                    done.append({"item": item, "decision": "rework", "review_id": rid})
                    break
                console.print(HELP)
            except (LabelError, ValueError) as exc:
                console.print(f"[red]refused:[/] {exc}")
    _finish(done, as_json)
    return 0


def _finish(done: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        _dump({"decisions": done})
    else:
        Console().print(f"{len(done)} decision(s) recorded")


def cmd_stats(args: argparse.Namespace) -> int:
    with _open(args) as ds:
        store = ds.store
        if store.role_of(args.person) not in ("reviewer", "admin"):
            raise LabelError("agreement figures are for reviewers and admins (--as)")
        answers, _ = store.log_tables()
        sessions = {r.session_id: r for r in store.sessions()}
        taxes = [store.taxonomy(n) for n in store.taxonomy_names()]
        stats = agreement(taxes, answers, sessions, args.grid_ms / 1000.0, args.window_s)
    rows = [s.as_dict() for s in stats]
    if args.json:
        _dump({"grid_ms": args.grid_ms, "window_s": args.window_s, "keys": rows})
        return 0
    table = Table(title=f"agreement (grid {args.grid_ms:g} ms, windows {args.window_s:g} s)")
    for col in ("key", "level", "units", "alpha", "pairs (alpha / agreement)", "low windows"):
        table.add_column(col)
    for r in rows:
        pairs = "; ".join(
            f"{'-'.join(p['annotators'])}: {_f(p['alpha'])} / {_f(p['agreement'])}"
            for p in r["pairwise"]
        )
        table.add_row(
            f"{r['taxonomy']}/{r['key']}",
            r["level"],
            str(r["units"]),
            _f(r["alpha"]),
            pairs,
            str(r["low_agreement_windows"]),
        )
    Console().print(table)
    return 0


def _f(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def cmd_show(args: argparse.Namespace) -> int:
    with _open(args) as ds:
        store = ds.store
        answers = [
            a
            for a in store.answers(args.person, session_id=args.session)
            if (args.taxonomy is None or a.taxonomy == args.taxonomy)
            and (args.key is None or a.key == args.key)
        ]
        out: dict[str, Any] = {"answers": _answer_rows(store, views.effective(answers))}
        if store.role_of(args.person) in ("reviewer", "admin"):
            all_answers, reviews = store.log_tables()
            wanted = {a.item for a in answers}
            out["gold"] = _answer_rows(
                store, [a for a in views.gold(all_answers, reviews) if a.item in wanted]
            )
            out["distribution"] = [
                {"item": i, "counts": c} for i, c in views.distribution(answers).items()
            ]
    if args.json:
        _dump(out)
        return 0
    console = Console()
    _print_answers(console, out["answers"], "current answers")
    if "gold" in out:
        _print_answers(console, out["gold"], "gold (reviewed)")
        for d in out["distribution"]:
            console.print(f"{d['item']}: " + ", ".join(f"{v} ×{n}" for v, n in d["counts"].items()))
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    with _open(args) as ds:
        store = ds.store
        answers = _answer_rows(store, store.answers(args.person))
        reviews = [r.as_dict() for r in store.reviews(args.person)]
    events = [{"kind": "answer", **a} for a in answers] + [{"kind": "review", **r} for r in reviews]
    events.sort(key=lambda e: (e["created_at"], e["kind"], e["id"]))
    if args.json:
        _dump(events)
        return 0
    for e in events:
        if e["kind"] == "answer":
            print(
                f"{e['created_at']}  answer {e['id']}  {e['session_id']}/{e['taxonomy']}/"
                f"{e['key']}  {json.dumps(e['value'])}  by {e['annotator_id']} ({e['role']})"
                + (f"  supersedes {e['supersedes']}" if e["supersedes"] else "")
            )
        else:
            print(
                f"{e['created_at']}  review {e['id']}  {e['session_id']}/{e['taxonomy']}/"
                f"{e['key']}  {e['decision']} by {e['reviewer_id']}"
                + (f"  answer {e['answer_id']}" if e["answer_id"] else "")
                + (f"  ({e['annotator_id']})" if e["annotator_id"] else "")
                + (f"  — {e['rationale']}" if e["rationale"] else "")
            )
    return 0
