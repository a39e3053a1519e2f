"""The API's rules, tried against the real app (Starlette through httpx, a real SQLite
label store): logins, roles, blindness, CSRF, paths, bad input, and staying up."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
from starlette.testclient import TestClient

from haptics.dataset.catalog import open_dataset
from haptics.session.manifest import read_manifest, write_manifest
from haptics.web.app import MAX_BODY, create_app
from tests.haptics.web.workbench_builders import Bench, login, make_dataset

Clients = dict[str, tuple[TestClient, str]]
MS = 1_000_000


def answers_in_store(bench: Bench) -> list[tuple[str, str, object]]:
    with open_dataset(bench.dir) as ds:
        answers, _ = ds.store.log_tables()
    return [(a.annotator_id, a.key, a.value) for a in answers]


def phase(bench: Bench, value: str, a_ms: int, b_ms: int) -> dict[str, object]:
    return {
        "session_id": bench.session_id,
        "taxonomy": "needle-phases",
        "key": "phase",
        "answers": [
            {
                "value": value,
                "t0_ns": bench.start_ns + a_ms * MS,
                "t1_ns": bench.start_ns + b_ms * MS,
            }
        ],
    }


def test_no_login_is_refused_everywhere(app_client: TestClient, bench: Bench) -> None:
    for path in (
        "/api/me",
        "/api/queue",
        f"/api/sessions/{bench.session_id}",
        f"/api/sessions/{bench.session_id}/view",
        "/api/review/queue",
        "/api/users",
    ):
        r = app_client.get(path)
        assert r.status_code == 401, path
        assert "log in" in r.json()["error"]
    assert app_client.post("/api/submit", json=phase(bench, "approach", 0, 100)).status_code == 401
    bad = app_client.post("/api/login", json={"user": "alice", "password": "wrong password"})
    assert bad.status_code == 401
    assert "haptics_session" not in bad.cookies
    assert answers_in_store(bench) == []


def test_forged_cookie_is_no_login(app_client: TestClient) -> None:
    app_client.cookies.set("haptics_session", "eyJ1IjoiYWxpY2UiLCJjIjoieCJ9.forged.sig")
    assert app_client.get("/api/me").status_code == 401


def test_annotator_labels_and_submits_through_the_queue(clients: Clients, bench: Bench) -> None:
    c, csrf = clients["alice"]
    q = c.get("/api/queue").json()
    assert q["assigned"] == 2 and q["done"] == 0
    assert {i["key"] for i in q["items"]} == {"phase", "event"}
    r = c.post("/api/submit", json=phase(bench, "approach", 0, 800), headers={"x-csrf-token": csrf})
    assert r.status_code == 200, r.text
    q = c.get("/api/queue").json()
    assert q["done"] == 1 and [i["key"] for i in q["items"]] == ["event"]
    assert answers_in_store(bench) == [("alice", "phase", "approach")]


def test_blind_item_hides_others_answers_until_answered(clients: Clients, bench: Bench) -> None:
    alice, a_csrf = clients["alice"]
    bob, b_csrf = clients["bob"]
    h = {"x-csrf-token": a_csrf}
    assert (
        alice.post("/api/submit", json=phase(bench, "approach", 0, 800), headers=h).status_code
        == 200
    )
    path = f"/api/items/{bench.session_id}/needle-phases/phase/answers"
    assert bob.get(path).json() == []  # hidden before bob answers
    sess = bob.get(f"/api/sessions/{bench.session_id}").json()
    assert all(a["annotator_id"] != "alice" for a in sess["answers"])
    # and the review endpoints, which show everything, are closed to him
    r = bob.get(
        "/api/review/item",
        params={"session_id": bench.session_id, "taxonomy": "needle-phases", "key": "phase"},
    )
    assert r.status_code == 403
    hb = {"x-csrf-token": b_csrf}
    assert (
        bob.post("/api/submit", json=phase(bench, "contact", 0, 900), headers=hb).status_code == 200
    )
    assert {a["annotator_id"] for a in bob.get(path).json()} == {"alice", "bob"}


def test_annotator_cannot_review_or_manage_users(clients: Clients, bench: Bench) -> None:
    c, csrf = clients["alice"]
    h = {"x-csrf-token": csrf}
    assert c.get("/api/review/queue").status_code == 403
    assert c.post("/api/review/accept", json={"answer_id": 1}, headers=h).status_code == 403
    assert c.get("/api/users").status_code == 403
    r = c.post(
        "/api/users",
        json={"user": "mallory", "password": "12345678x", "role": "admin"},
        headers=h,
    )
    assert r.status_code == 403
    admin, a_csrf = clients["root"]
    assert "mallory" not in {u["user"] for u in admin.get("/api/users").json()}
    # an admin manages users but does not label
    r = admin.post(
        "/api/submit", json=phase(bench, "approach", 0, 10), headers={"x-csrf-token": a_csrf}
    )
    assert r.status_code == 403
    assert answers_in_store(bench) == []


def test_write_without_valid_csrf_is_refused(clients: Clients, bench: Bench) -> None:
    c, csrf = clients["alice"]
    body = phase(bench, "approach", 0, 100)
    assert c.post("/api/submit", json=body).status_code == 403
    assert c.post("/api/submit", json=body, headers={"x-csrf-token": "nope"}).status_code == 403
    # another session's token is not this one's
    _, bob_csrf = clients["bob"]
    assert c.post("/api/submit", json=body, headers={"x-csrf-token": bob_csrf}).status_code == 403
    assert answers_in_store(bench) == []
    # the session's own token is what lets the same write through
    assert c.post("/api/submit", json=body, headers={"x-csrf-token": csrf}).status_code == 200
    assert answers_in_store(bench) == [("alice", "phase", "approach")]


def test_paths_outside_the_dataset_are_refused(
    clients: Clients, bench: Bench, tmp_path: Path
) -> None:
    c, csrf = clients["alice"]
    for bad in ("..", "..%2F..%2Fetc", "%2E%2E", "a..b"):
        r = c.get(f"/api/sessions/{bad}/view")
        assert r.status_code in (400, 404), bad
    r = c.get("/api/items/../needle-phases/phase/answers")
    assert r.status_code in (400, 404)
    body = phase(bench, "approach", 0, 100)
    body["session_id"] = "../../etc/passwd"
    r = c.post("/api/submit", json=body, headers={"x-csrf-token": csrf})
    assert r.status_code == 400 and "not a valid session id" in r.json()["error"]
    # a catalog entry pointing outside the folder is refused too
    with open_dataset(bench.dir) as ds:
        from dataclasses import replace

        rec = ds.store.session(bench.session_id)
        ds.store.put_session(replace(rec, session_id="escape", path=str(tmp_path)))
    assert c.get("/api/sessions/escape/view").status_code == 403
    assert answers_in_store(bench) == []


def test_malformed_and_oversized_requests_write_nothing(clients: Clients, bench: Bench) -> None:
    c, csrf = clients["alice"]
    h = {"x-csrf-token": csrf, "content-type": "application/json"}
    cases = [
        (b"{not json", 400),
        (b'"a string"', 422),
        (b'{"session_id": "x"}', 422),
        (
            b'{"session_id": "' + bench.session_id.encode() + b'", "taxonomy": "needle-phases",'
            b' "key": "phase", "answers": [], "extra": 1}',
            422,
        ),
        (b"x" * (MAX_BODY + 1), 413),
    ]
    for raw, status in cases:
        r = c.post("/api/submit", content=raw, headers=h)
        assert r.status_code == status, (raw[:40], r.text)
        assert r.json()["error"]
    # a value outside the taxonomy, an interval past the session's end: clear 400s
    r = c.post("/api/submit", json=phase(bench, "dancing", 0, 100), headers=h)
    assert r.status_code == 400 and "dancing" in r.json()["error"]
    r = c.post("/api/submit", json=phase(bench, "approach", 0, 10**9), headers=h)
    assert r.status_code == 400 and "outside" in r.json()["error"]
    # one good and one bad answer: all or nothing
    body = phase(bench, "approach", 0, 100)
    body["answers"].append({"value": "approach", "t0_ns": 5, "t1_ns": 1})  # type: ignore[union-attr]
    assert c.post("/api/submit", json=body, headers=h).status_code == 400
    assert c.get("/api/sessions/s1/view", params={"width": 10**6}).status_code in (400, 404)
    assert c.get(f"/api/sessions/{bench.session_id}/view", params={"width": "x"}).status_code == 400
    assert answers_in_store(bench) == []
    # and the server still serves
    assert c.get("/api/me").json()["user"] == "alice"
    assert (
        c.post("/api/submit", json=phase(bench, "approach", 0, 100), headers=h).status_code == 200
    )


def test_reviewer_accepts_corrects_and_sends_back(clients: Clients, bench: Bench) -> None:
    for who, value in (("alice", "approach"), ("bob", "contact")):
        c, csrf = clients[who]
        r = c.post("/api/submit", json=phase(bench, value, 0, 800), headers={"x-csrf-token": csrf})
        assert r.status_code == 200
    rv, csrf = clients["carol"]
    h = {"x-csrf-token": csrf}
    queue = rv.get("/api/review/queue").json()
    assert [(e["key"]) for e in queue] == ["phase"]
    item = rv.get(
        "/api/review/item",
        params={"session_id": bench.session_id, "taxonomy": "needle-phases", "key": "phase"},
    ).json()
    by = {a["annotator_id"]: a["id"] for a in item["answers"]}
    assert set(by) == {"alice", "bob"}
    assert sum(item["distribution"].values()) == 2
    assert item["agreement"]["windows"] and item["agreement"]["low_windows"]  # they disagree
    assert (
        rv.post("/api/review/accept", json={"answer_id": by["alice"]}, headers=h).status_code == 200
    )
    r = rv.post(
        "/api/review/correct", json={"answer_id": by["bob"], "value": "approach"}, headers=h
    )
    assert r.status_code == 422  # a correction needs a rationale
    r = rv.post(
        "/api/review/correct",
        json={"answer_id": by["bob"], "value": "approach", "rationale": "no contact before 0.8 s"},
        headers=h,
    )
    assert r.status_code == 200
    r = rv.post(
        "/api/review/send-back",
        json={
            "session_id": bench.session_id,
            "taxonomy": "needle-phases",
            "key": "phase",
            "annotator": "bob",
            "rationale": "look at the force again",
        },
        headers=h,
    )
    assert r.status_code == 200
    bob, _ = clients["bob"]
    assert any(i["reason"] == "rework" for i in bob.get("/api/queue").json()["items"])
    assert answers_in_store(bench) == [
        ("alice", "phase", "approach"),
        ("bob", "phase", "contact"),
        ("carol", "phase", "approach"),
    ]


def test_reviewer_corrects_an_answers_times_as_a_new_answer(clients: Clients, bench: Bench) -> None:
    for who, value in (("alice", "approach"), ("bob", "contact")):
        c, csrf = clients[who]
        r = c.post(
            "/api/submit", json=phase(bench, value, 100, 800), headers={"x-csrf-token": csrf}
        )
        assert r.status_code == 200
    with open_dataset(bench.dir) as ds:
        before, _ = ds.store.log_tables()
    bob_id = next(a.id for a in before if a.annotator_id == "bob")
    rv, csrf = clients["carol"]
    h = {"x-csrf-token": csrf}

    def correct(**times: int) -> int:
        body = {"answer_id": bob_id, "value": "approach", "rationale": "contact starts at 0.5 s"}
        return rv.post("/api/review/correct", json={**body, **times}, headers=h).status_code

    # times the session cannot hold, or backwards: refused, nothing written
    assert correct(t0_ns=bench.start_ns + 500 * MS, t1_ns=bench.start_ns + 200 * MS) == 400
    assert correct(t0_ns=bench.start_ns + 500 * MS, t1_ns=bench.end_ns + 10**9) == 400
    assert correct(t0_ns=bench.start_ns + 500 * MS, t1_ns=bench.start_ns + 900 * MS) == 200
    with open_dataset(bench.dir) as ds:
        answers, reviews = ds.store.log_tables()
    # the original stays as it was; the correction is a new row that supersedes it
    assert [(a.id, a.annotator_id, a.t0_ns, a.t1_ns) for a in answers[:2]] == [
        (a.id, a.annotator_id, a.t0_ns, a.t1_ns) for a in before
    ]
    new = answers[2]
    assert (new.annotator_id, new.value, new.supersedes) == ("carol", "approach", bob_id)
    assert (new.t0_ns, new.t1_ns) == (bench.start_ns + 500 * MS, bench.start_ns + 900 * MS)
    assert new.rationale == "contact starts at 0.5 s"
    assert [(r.decision, r.answer_id, r.annotator_id) for r in reviews] == [
        ("corrected", new.id, "bob")
    ]
    # the review view shows the correction as the current answer, bob's as superseded
    item = rv.get(
        "/api/review/item",
        params={"session_id": bench.session_id, "taxonomy": "needle-phases", "key": "phase"},
    ).json()
    assert new.id in item["current"] and bob_id not in item["current"]

    # an instant moves to a new instant the same way
    c, acsrf = clients["alice"]
    body = {
        "session_id": bench.session_id,
        "taxonomy": "tissue-events",
        "key": "event",
        "answers": [{"value": "contact", "t0_ns": bench.start_ns + 700 * MS}],
    }
    (instant,) = c.post("/api/submit", json=body, headers={"x-csrf-token": acsrf}).json()["ids"]
    r = rv.post(
        "/api/review/correct",
        json={
            "answer_id": instant,
            "value": "contact",
            "rationale": "the force rises at 0.65 s",
            "t0_ns": bench.start_ns + 650 * MS,
        },
        headers=h,
    )
    assert r.status_code == 200
    with open_dataset(bench.dir) as ds:
        answers, _ = ds.store.log_tables()
    moved = answers[-1]
    assert (moved.supersedes, moved.t0_ns, moved.t1_ns) == (
        instant,
        bench.start_ns + 650 * MS,
        None,
    )
    assert answers[-2].t0_ns == bench.start_ns + 700 * MS  # alice's instant stays


def test_session_video_is_served_to_logged_in_users_with_ranges(tmp_path: Path) -> None:
    bench = make_dataset(tmp_path / "ds", camera=True)
    mp4 = (bench.dir / "sessions" / "s1" / "video.mp4").read_bytes()
    with TestClient(create_app(bench.dir, secret="test-secret")) as c:
        base = f"/api/sessions/{bench.session_id}"
        for path in (f"{base}/video", f"{base}/video/frames"):
            assert c.get(path).status_code == 401, path
        login(c, "alice")
        info = c.get(base).json()
        assert info["video"]["frames"] == len(bench.frames) and info["video"]["codec"] == "h264"
        whole = c.get(f"{base}/video")
        assert whole.status_code == 200 and whole.content == mp4
        assert whole.headers["content-type"] == "video/mp4"
        assert whole.headers["accept-ranges"] == "bytes"
        part = c.get(f"{base}/video", headers={"range": "bytes=100-199"})  # how a browser seeks
        assert part.status_code == 206 and part.content == mp4[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(mp4)}"
        assert c.get(f"{base}/video", headers={"range": "bytes=9999999-"}).status_code == 416
        f = c.get(f"{base}/video/frames").json()
        video_s = np.frombuffer(base64.b64decode(f["video_s"]), "<f8")
        host_ms = np.frombuffer(base64.b64decode(f["host_ms"]), "<f8")
        assert f["fps"] == 30.0 and f["frames"] == len(bench.frames)
        assert np.allclose(video_s, [pts / 30 for pts, _ in bench.frames])
        assert np.allclose(host_ms, [(t - bench.start_ns) / 1e6 for _, t in bench.frames])
        assert c.get("/api/sessions/%2E%2E/video").status_code in (400, 404)


def test_video_paths_stay_inside_the_session(
    clients: Clients, bench: Bench, tmp_path: Path
) -> None:
    c, _ = clients["alice"]
    base = f"/api/sessions/{bench.session_id}"
    # a session recorded without a camera: no player, and no video to fetch
    assert c.get(base).json()["video"] is None
    r = c.get(f"{base}/video")
    assert r.status_code == 404 and "without a camera" in r.json()["error"]
    assert c.get(f"{base}/video/frames").status_code == 404
    # a catalog entry whose folder lies outside the dataset
    with open_dataset(bench.dir) as ds:
        from dataclasses import replace

        rec = ds.store.session(bench.session_id)
        ds.store.put_session(replace(rec, session_id="escape", path=str(tmp_path)))
    assert c.get("/api/sessions/escape/video").status_code == 403


def test_a_manifest_naming_a_file_outside_its_session_is_refused(tmp_path: Path) -> None:
    bench = make_dataset(tmp_path / "ds", camera=True)
    secret = tmp_path / "secret.mp4"
    secret.write_bytes(b"not for the browser")
    session = bench.dir / "sessions" / "s1"
    m = read_manifest(session)
    assert m.video is not None
    m.video["file"] = "../../../secret.mp4"
    write_manifest(session, m)
    with TestClient(create_app(bench.dir, secret="test-secret")) as c:
        login(c, "alice")
        base = f"/api/sessions/{bench.session_id}"
        r = c.get(f"{base}/video")
        assert r.status_code == 400 and "outside the session folder" in r.json()["error"]
        assert b"not for the browser" not in r.content
        info = c.get(base)  # the session itself stays viewable, without its video
        assert info.status_code == 200 and info.json()["video"] is None
        assert "outside the session folder" in info.json()["video_problem"]
