"""The workbench's ASGI app: JSON API over a dataset's label store, and the static UI.

Every API route is declared with `api(path, permission, ...)`; its wrapper runs
`auth.authorize`, reads and validates the body (size-limited JSON, pydantic models that
forbid unknown fields), runs the handler in a worker thread and turns every error into a
JSON 4xx with a message, so one failing request never stops the server.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from haptics.dataset import views
from haptics.dataset.agreement import LOW_ALPHA, key_agreement
from haptics.dataset.catalog import Dataset, open_dataset
from haptics.dataset.review import review_queue
from haptics.dataset.store import Item, NewAnswer
from haptics.errors import HapticsError, LabelError, SessionError
from haptics.session.overview import ensure_overview
from haptics.session.reading import open_session
from haptics.web.auth import COOKIE, MAX_AGE_S, Login, Signer, authorize
from haptics.web.decimate import MAX_WIDTH
from haptics.web.traces import SessionTraces, open_traces
from haptics.web.users import Users
from haptics.web.video import SessionVideo, session_video

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"
MAX_BODY = 256 * 1024  # bytes of JSON a request may carry
MAX_ANSWERS = 5000  # answers in one submit
CACHE_SESSIONS = 4  # sessions whose traces stay in memory (an hour at 1 kHz: ~300 MB)
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginBody(_Body):
    user: str = Field(max_length=64)
    password: str = Field(max_length=1024)


class AnswerBody(_Body):
    value: Any
    t0_ns: int | None = None
    t1_ns: int | None = None
    supersedes: int | None = None


class SubmitBody(_Body):
    session_id: str = Field(max_length=128)
    taxonomy: str = Field(max_length=128)
    key: str = Field(max_length=128)
    answers: list[AnswerBody] = Field(min_length=1, max_length=MAX_ANSWERS)


class AcceptBody(_Body):
    answer_id: int
    rationale: str | None = Field(None, max_length=4000)


class CorrectBody(_Body):
    answer_id: int
    value: Any
    rationale: str = Field(min_length=1, max_length=4000)
    t0_ns: int | None = None
    t1_ns: int | None = None


class SendBackBody(_Body):
    session_id: str = Field(max_length=128)
    taxonomy: str = Field(max_length=128)
    key: str = Field(max_length=128)
    annotator: str = Field(max_length=128)
    rationale: str = Field(min_length=1, max_length=4000)


class UserBody(_Body):
    user: str = Field(max_length=64)
    password: str = Field(max_length=1024)
    role: str = Field(max_length=16)


def safe_id(text: str, what: str) -> str:
    """`text` if it is a plain id (no slash, no `..`); else HTTP 400."""
    if not SAFE_ID.match(text) or ".." in text:
        raise HTTPException(400, f"'{text[:80]}' is not a valid {what}")
    return text


class Workbench:
    """The server's state: the dataset, logins, cookie signer and cached session traces."""

    def __init__(self, dataset_dir: Path, secret: str | None = None) -> None:
        self.dir = dataset_dir.resolve()
        self.dataset: Dataset = open_dataset(self.dir)
        self.store = self.dataset.store
        self.users = Users(self.dir, self.store)
        self.signer = Signer(secret or secrets.token_urlsafe(32))
        self._lock = threading.Lock()
        self._traces: OrderedDict[str, SessionTraces] = OrderedDict()
        self._reading: set[str] = set()  # sessions whose full samples are being read ahead
        self._video_lock = threading.Lock()
        self._videos: OrderedDict[str, SessionVideo | None] = OrderedDict()

    def close(self) -> None:
        self.dataset.close()

    def item(self, session_id: str, taxonomy: str, key: str) -> Item:
        """A checked item: plain ids, a catalogued session and a key in use (else 4xx)."""
        item = Item(
            safe_id(session_id, "session id"),
            safe_id(taxonomy, "taxonomy"),
            safe_id(key, "key"),
        )
        self.store.session(item.session_id)  # LabelError → 404 below
        self.store.key(item)
        return item

    def traces(self, session_id: str) -> SessionTraces:
        """A session's traces, opened once (from the overview kept beside the session; built
        there if missing). Refuses (403) a session stored outside the dataset folder."""
        safe_id(session_id, "session id")
        with self._lock:
            if session_id not in self._traces:
                self.session_dir(session_id)  # 403 outside the dataset
                self._traces[session_id] = open_traces(self.dataset.session(session_id))
                while len(self._traces) > CACHE_SESSIONS:
                    self._traces.popitem(last=False)
            self._traces.move_to_end(session_id)
            return self._traces[session_id]

    def session_dir(self, session_id: str) -> Path:
        """A catalogued session's folder; refuses (403) one stored outside the dataset
        folder, 404 an unknown session (LabelError)."""
        rec = self.store.session(safe_id(session_id, "session id"))
        p = Path(rec.path)
        where = (p if p.is_absolute() else self.dir / p).resolve()
        if not where.is_relative_to(self.dir):
            raise HTTPException(403, f"session '{session_id}' lies outside the dataset")
        return where

    def video(self, session_id: str) -> SessionVideo | None:
        """A session's video and frame times (None: recorded without a camera), read once.
        The file is the one the session's own manifest names, inside its folder."""
        folder = self.session_dir(session_id)
        with self._video_lock:
            if session_id not in self._videos:
                self._videos[session_id] = session_video(folder)
                while len(self._videos) > 4 * CACHE_SESSIONS:
                    self._videos.popitem(last=False)
            self._videos.move_to_end(session_id)
            return self._videos[session_id]

    def warm(self) -> None:
        """Open the traces of the first catalogued sessions ahead of any request, and
        build the overview of every session that lacks a current one (a session catalogued
        by an older haptics, or changed since), so each first view reads only its overview.
        Problems are logged, never raised: the request that needs the session reports them."""
        for i, rec in enumerate(self.store.sessions()):
            try:
                if i < CACHE_SESSIONS:
                    self.traces(rec.session_id)
                else:  # opened apart from the dataset's sessions: nothing of it stays open
                    ensure_overview(open_session(self.session_dir(rec.session_id)))
            except (HapticsError, HTTPException) as exc:
                log.warning("cannot prepare session %s: %s", rec.session_id, exc)

    def read_ahead(self, session_id: str, traces: SessionTraces) -> None:
        """Read a session's full-resolution samples in a background thread (once), so its
        deep zooms need not wait for them. Problems are logged: a zoom that needs the
        samples reports them."""
        with self._lock:
            if traces.fully_loaded or session_id in self._reading:
                return
            self._reading.add(session_id)

        def run() -> None:
            try:
                traces.load_full()
            except HapticsError as exc:
                log.warning("cannot read session %s ahead: %s", session_id, exc)
            finally:
                with self._lock:
                    self._reading.discard(session_id)

        threading.Thread(target=run, name=f"read-ahead-{session_id}", daemon=True).start()


Handler = Callable[[Workbench, Login | None, Request, Any], Any]


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _read_json(request: Request) -> Any:
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
        raise HTTPException(413, f"request body over {MAX_BODY} bytes; send less at once")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPException(413, f"request body over {MAX_BODY} bytes; send less at once")
    if not body:
        return {}
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPException(400, f"the body is not valid JSON: {exc}") from None


def api(
    wb: Workbench,
    path: str,
    permission: str,
    handler: Handler,
    method: str = "GET",
    model: type[BaseModel] | None = None,
) -> Route:
    """A JSON route whose every request goes through `authorize` and the error mapping."""

    async def endpoint(request: Request) -> Response:
        try:
            login = authorize(request, permission, wb.signer, wb.users)
            body: Any = None
            if method == "POST":
                raw = await _read_json(request)
                body = model.model_validate(raw) if model is not None else raw
            result = await run_in_threadpool(handler, wb, login, request, body)
            if isinstance(result, Response):
                return result
            return JSONResponse(result)
        except HTTPException as exc:
            return _error(exc.status_code, str(exc.detail))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            return _error(422, f"{where}: {first['msg']}; nothing was written")
        except LabelError as exc:
            text = str(exc)
            status = 404 if "not in the dataset's catalog" in text or "not in use" in text else 400
            return _error(status, text)
        except HapticsError as exc:
            return _error(400, str(exc))
        except Exception:  # one failing request must not stop the server
            log.exception("request %s %s failed", request.method, request.url.path)
            return _error(500, "the server failed on this request; it is logged, retry later")

    return Route(path, endpoint, methods=[method])


# -- handlers -----------------------------------------------------------------------------------
def h_login(wb: Workbench, _l: Login | None, r: Request, body: LoginBody) -> Response:
    role = wb.users.verify(body.user, body.password)
    if role is None:
        return _error(401, "wrong user name or password")
    value, csrf = wb.signer.cookie(body.user)
    resp = JSONResponse({"user": body.user, "role": role, "csrf": csrf})
    resp.set_cookie(
        COOKIE,
        value,
        max_age=MAX_AGE_S,
        httponly=True,
        samesite="strict",
        secure=r.url.scheme == "https",  # over TLS the cookie never travels in clear
    )
    return resp


def h_logout(_wb: Workbench, _l: Login | None, _r: Request, _b: Any) -> Response:
    resp = JSONResponse({"ok": True})
    resp.delete_cookie(COOKIE)
    return resp


def h_me(_wb: Workbench, login: Login | None, _r: Request, _b: Any) -> dict[str, Any]:
    assert login is not None
    return {"user": login.user, "role": login.role, "csrf": login.csrf}


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def _item_dict(item: Item) -> dict[str, str]:
    return {"session_id": item.session_id, "taxonomy": item.taxonomy, "key": item.key}


def h_queue(wb: Workbench, login: Login | None, _r: Request, _b: Any) -> dict[str, Any]:
    assert login is not None
    if login.role != "annotator":
        return {"items": [], "assigned": 0, "done": 0}
    todo = wb.store.queue(login.user)
    assigned = [it for it, _ in wb.store.assignments(login.user)]
    mine = {a.item for a in wb.store.answers(login.user) if a.annotator_id == login.user}
    return {
        "items": [
            {**_item_dict(e["item"]), "reason": e["reason"], "rationale": e["rationale"]}
            for e in todo
        ],
        "assigned": len(assigned),
        "done": sum(1 for it in assigned if it in mine)
        - sum(1 for e in todo if e["reason"] == "rework"),
    }


def h_session(wb: Workbench, login: Login | None, r: Request, _b: Any) -> dict[str, Any]:
    assert login is not None
    sid = safe_id(r.path_params["sid"], "session id")
    rec = wb.store.session(sid)
    wb.traces(sid)  # checks the path; computes once
    keys = []
    for tax_name in wb.store.taxonomy_names():
        tax = wb.store.taxonomy(tax_name)
        for name, k in tax.keys.items():
            keys.append(
                {
                    "taxonomy": tax_name,
                    "key": name,
                    "target": k.target,
                    "value_type": k.value_type,
                    "values": list(k.values),
                    "minimum": k.minimum,
                    "maximum": k.maximum,
                    "blind": k.blind,
                }
            )
    mine = [_item_dict(it) for it, _ in wb.store.assignments(login.user) if it.session_id == sid]
    answers = [a.as_dict() for a in wb.store.answers(login.user, session_id=sid)]
    video, problem = None, None
    try:
        vid = wb.video(sid)
    except SessionError as exc:  # the session stays viewable without its video
        vid, problem = None, str(exc)
    if vid is not None:
        info = vid.info
        video = {
            "width": info.width,
            "height": info.height,
            "fps": info.fps,
            "frames": vid.frames,
            "codec": info.codec,
        }
    return {
        "session": rec.as_dict(),
        "keys": keys,
        "assigned": mine,
        "answers": answers,
        "video": video,
        "video_problem": problem,
    }


def _video_of(wb: Workbench, r: Request) -> SessionVideo:
    vid = wb.video(safe_id(r.path_params["sid"], "session id"))
    if vid is None:
        raise HTTPException(404, "this session was recorded without a camera")
    return vid


def h_video(wb: Workbench, _l: Login | None, r: Request, _b: Any) -> Response:
    """The session's MP4; byte ranges (HTTP 206) let the browser seek."""
    vid = _video_of(wb, r)
    return FileResponse(vid.path, media_type="video/mp4", headers={"cache-control": "private"})


def h_video_frames(wb: Workbench, _l: Login | None, r: Request, _b: Any) -> dict[str, Any]:
    """Per frame: when it shows in the video (s) and when it was captured (ms from the
    session's start), as base64 of little-endian float64."""
    vid = _video_of(wb, r)
    start = wb.store.session(r.path_params["sid"]).start_ns
    return {
        "fps": vid.info.fps,
        "frames": vid.frames,
        "video_s": _b64(vid.video_s.astype("<f8")),
        "host_ms": _b64(((vid.host_ns - start) / 1e6).astype("<f8")),
    }


def _int_param(r: Request, name: str, default: int) -> int:
    raw = r.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise HTTPException(400, f"query parameter {name} must be an integer") from None


def h_view(wb: Workbench, login: Login | None, r: Request, _b: Any) -> dict[str, Any]:
    sid = safe_id(r.path_params["sid"], "session id")
    rec = wb.store.session(sid)
    traces = wb.traces(sid)
    t0 = _int_param(r, "t0_ns", rec.start_ns)
    t1 = _int_param(r, "t1_ns", rec.end_ns)
    width = _int_param(r, "width", 1000)
    if not 1 <= width <= MAX_WIDTH:
        raise HTTPException(400, f"width is 1 to {MAX_WIDTH} pixel columns")
    if t1 <= t0:
        raise HTTPException(400, "t1_ns must be after t0_ns")
    out = traces.view(t0, t1, width)
    wb.read_ahead(sid, traces)  # after the answer is ready: deep zooms come next
    return out


def h_item_answers(wb: Workbench, login: Login | None, r: Request, _b: Any) -> list[Any]:
    assert login is not None
    p = r.path_params
    item = wb.item(p["sid"], p["tax"], p["key"])
    return [a.as_dict() for a in wb.store.answers(login.user, item=item)]


def h_submit(wb: Workbench, login: Login | None, _r: Request, body: SubmitBody) -> Any:
    assert login is not None
    item = wb.item(body.session_id, body.taxonomy, body.key)
    ids = wb.store.add_answers(
        [
            NewAnswer(
                item.session_id,
                item.taxonomy,
                item.key,
                a.value,
                t0_ns=a.t0_ns,
                t1_ns=a.t1_ns,
                supersedes=a.supersedes,
            )
            for a in body.answers
        ],
        login.user,
    )
    return {"ids": ids}


def h_review_queue(wb: Workbench, _l: Login | None, _r: Request, _b: Any) -> list[Any]:
    out = []
    for e in review_queue(wb.store):
        d = {k: v for k, v in e.items() if k != "item"}
        out.append({**_item_dict(e["item"]), **json.loads(json.dumps(d, default=str))})
    return out


def h_review_item(wb: Workbench, login: Login | None, r: Request, _b: Any) -> dict[str, Any]:
    assert login is not None
    q = r.query_params
    item = wb.item(q.get("session_id", ""), q.get("taxonomy", ""), q.get("key", ""))
    answers = wb.store.answers(login.user, item=item)
    reviews = wb.store.reviews(login.user, item=item)
    dist = views.distribution(answers).get(item, {})
    rec = wb.store.session(item.session_id)
    stats = key_agreement(
        wb.store.taxonomy(item.taxonomy), item.key, answers, {rec.session_id: rec}
    ).as_dict()
    stats["low_windows"] = [
        w for w in stats["windows"] if w["alpha"] is not None and w["alpha"] < LOW_ALPHA
    ]
    return {
        **_item_dict(item),
        "answers": [a.as_dict() for a in answers],
        "current": [a.id for a in views.effective(answers)],
        "reviews": [rv.as_dict() for rv in reviews],
        "distribution": dist,
        "agreement": stats,
    }


def h_accept(wb: Workbench, login: Login | None, _r: Request, body: AcceptBody) -> Any:
    assert login is not None
    return {"review_id": wb.store.accept(body.answer_id, login.user, body.rationale)}


def h_correct(wb: Workbench, login: Login | None, _r: Request, body: CorrectBody) -> Any:
    assert login is not None
    new_id, rid = wb.store.correct(
        body.answer_id, body.value, body.rationale, login.user, body.t0_ns, body.t1_ns
    )
    return {"answer_id": new_id, "review_id": rid}


def h_send_back(wb: Workbench, login: Login | None, _r: Request, body: SendBackBody) -> Any:
    assert login is not None
    item = wb.item(body.session_id, body.taxonomy, body.key)
    rid = wb.store.send_back(item, safe_id(body.annotator, "user"), body.rationale, login.user)
    return {"review_id": rid}


def h_users(wb: Workbench, _l: Login | None, _r: Request, _b: Any) -> list[Any]:
    return wb.users.list()


def h_add_user(wb: Workbench, _l: Login | None, _r: Request, body: UserBody) -> Any:
    wb.users.add(body.user, body.password, body.role)
    return {"user": body.user, "role": body.role}


def h_sessions(wb: Workbench, _l: Login | None, _r: Request, _b: Any) -> list[Any]:
    return [r.as_dict() for r in wb.store.sessions()]


def create_app(dataset_dir: Path, secret: str | None = None, warm: bool = False) -> Starlette:
    """The workbench app over one dataset folder; `warm` reads the first sessions' traces in
    a background thread at start-up (`Workbench.warm`). Raises ConfigError/StoreError if
    the folder is not a dataset or its store cannot be opened."""
    wb = Workbench(dataset_dir, secret)

    async def index(_request: Request) -> Response:
        return FileResponse(STATIC / "index.html")

    def a(path: str, perm: str, h: Any, method: str = "GET", model: Any = None) -> Route:
        return api(wb, path, perm, h, method, model)

    routes = [
        Route("/", index),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        a("/api/login", "public", h_login, "POST", LoginBody),
        a("/api/logout", "public", h_logout, "POST"),
        a("/api/me", "read", h_me),
        a("/api/queue", "read", h_queue),
        a("/api/sessions", "read", h_sessions),
        a("/api/sessions/{sid}", "read", h_session),
        a("/api/sessions/{sid}/view", "read", h_view),
        a("/api/sessions/{sid}/video", "read", h_video),
        a("/api/sessions/{sid}/video/frames", "read", h_video_frames),
        a("/api/items/{sid}/{tax}/{key}/answers", "read", h_item_answers),
        a("/api/submit", "label", h_submit, "POST", SubmitBody),
        a("/api/review/queue", "review", h_review_queue),
        a("/api/review/item", "review", h_review_item),
        a("/api/review/accept", "review", h_accept, "POST", AcceptBody),
        a("/api/review/correct", "review", h_correct, "POST", CorrectBody),
        a("/api/review/send-back", "review", h_send_back, "POST", SendBackBody),
        a("/api/users", "manage", h_users),
        a("/api/users", "manage", h_add_user, "POST", UserBody),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if warm:
            threading.Thread(target=wb.warm, name="workbench-warm", daemon=True).start()
        try:
            yield
        finally:
            wb.close()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.workbench = wb
    return app
