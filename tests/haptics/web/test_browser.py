"""The workbench in a real browser: Debian's headless Chromium driven by Playwright, against
a real uvicorn server on a real socket. Two annotators label intervals with the mouse and the
keyboard, a reviewer accepts one answer and corrects another, and the label store then holds
exactly those answers and decisions.

Screenshots of the queue, the session view and review mode are written to the test's folder,
and to docs/images/ when HAPTICS_UPDATE_SCREENSHOTS=1 (how the README's images are made).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from haptics.dataset.catalog import open_dataset
from haptics.web.app import create_app
from tests.haptics.web.workbench_builders import FPS, PASSWORD, Bench, grey_of, make_dataset

CHROMIUM = "/usr/lib/chromium/chromium"  # Debian's `chromium` (scripts/install-system-deps.sh)
IMAGES = Path(__file__).resolve().parents[3] / "docs" / "images"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serving(bench: Bench) -> Iterator[str]:
    """A uvicorn server of the workbench over `bench`'s dataset; its URL."""
    port = free_port()
    srv = uvicorn.Server(
        uvicorn.Config(create_app(bench.dir), host="127.0.0.1", port=port, log_level="warning")
    )
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "the server did not start in 30 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        th.join(10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Bench]]:
    """A server over a dataset with a 6 s session recorded without a camera."""
    bench = make_dataset(tmp_path / "ds", n=6000)
    with serving(bench) as url:
        yield url, bench


@pytest.fixture
def filmed(tmp_path: Path) -> Iterator[tuple[str, Bench]]:
    """A server over a dataset with a 6 s session filmed from 0.4 s on (`film`)."""
    bench = make_dataset(tmp_path / "ds", n=6000, camera=True)
    with serving(bench) as url:
        yield url, bench


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def log_in(browser: Browser, url: str, user: str) -> Page:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(url + "/")
    page.fill("#login input[name=user]", user)
    page.fill("#login input[name=password]", PASSWORD)
    page.click("#login button")
    page.wait_for_selector("#who")
    page.wait_for_function(
        "(u) => document.querySelector('#who').textContent.includes(u)", arg=user
    )
    return page


def plot_x(page: Page, panel: str, f: float) -> tuple[float, float]:
    """Page coordinates of the point at fraction `f` of a panel's time axis (right of its
    y axis), halfway down."""
    box = page.locator(f"canvas[data-panel={panel}]").bounding_box()
    assert box is not None
    axis = float(page.evaluate("AXIS_W"))
    return box["x"] + 1 + axis + f * (box["width"] - 2 - axis), box["y"] + box["height"] / 2


def drag(page: Page, panel: str, x0: float, x1: float) -> None:
    """Drag across a panel from x0 to x1 (fractions of its time axis)."""
    a, y = plot_x(page, panel, x0)
    b, _ = plot_x(page, panel, x1)
    page.mouse.move(a, y)
    page.mouse.down()
    page.mouse.move(b, y, steps=8)
    page.mouse.up()


def drag_and_label(page: Page, x0: float, x1: float, key: str) -> None:
    """Drag across the force plot from x0 to x1 (fractions of its time axis), press `key`."""
    drag(page, "force", x0, x1)
    page.keyboard.press(key)


def shot(page: Page, tmp: Path, name: str) -> None:
    page.screenshot(path=str(tmp / name), full_page=True)
    if os.environ.get("HAPTICS_UPDATE_SCREENSHOTS") == "1":
        IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp / name, IMAGES / name)


def annotate(
    browser: Browser,
    url: str,
    bench: Bench,
    user: str,
    keys: list[tuple[float, float, str]],
    tmp: Path,
) -> None:
    page = log_in(browser, url, user)
    page.wait_for_selector("#queue a")
    if user == "alice":
        shot(page, tmp, "workbench-queue.png")
    page.click(f"#queue a:has-text('{bench.session_id}')")
    page.wait_for_function("S.view && S.view.data && S.view.data.traces.length > 0")
    assert page.locator("#video").count() == 0  # recorded without a camera: no player
    page.select_option("#item", label="needle-phases/phase")
    for x0, x1, key in keys:
        drag_and_label(page, x0, x1, key)
    page.wait_for_function(f"document.querySelectorAll('#drafts li').length === {len(keys)}")
    # zoom with the wheel: the server answers a narrower window
    box = page.locator("canvas[data-panel=position]").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 20)
    page.mouse.wheel(0, -300)
    page.wait_for_function(
        "S.view.data.t1_ns - S.view.data.t0_ns < S.view.rec.end_ns - S.view.rec.start_ns"
    )
    page.keyboard.press("0")  # whole session again
    page.wait_for_function(
        "S.view.data.t1_ns - S.view.data.t0_ns === S.view.rec.end_ns - S.view.rec.start_ns"
    )
    if user == "alice":
        shot(page, tmp, "workbench-session.png")
    page.click("#submit")
    page.wait_for_selector("#status:has-text('submitted')")
    page.close()


def test_two_annotators_and_a_reviewer_in_a_real_browser(
    server: tuple[str, Bench], browser: Browser, tmp_path: Path
) -> None:
    url, bench = server
    annotate(browser, url, bench, "alice", [(0.05, 0.40, "1"), (0.45, 0.90, "3")], tmp_path)
    annotate(browser, url, bench, "bob", [(0.10, 0.50, "2")], tmp_path)

    with open_dataset(bench.dir) as ds:
        answers, _ = ds.store.log_tables()
    by = {(a.annotator_id, a.value): a for a in answers}
    assert sorted(by) == [("alice", "approach"), ("alice", "insertion"), ("bob", "contact")]
    span = bench.end_ns - bench.start_ns
    a = by[("alice", "approach")]
    assert a.t0_ns is not None and a.t1_ns is not None
    # the drag covered 5 %–40 % of the plot: the interval says so (a pixel or two of slack)
    assert abs((a.t0_ns - bench.start_ns) / span - 0.05) < 0.01
    assert abs((a.t1_ns - bench.start_ns) / span - 0.40) < 0.01

    page = log_in(browser, url, "carol")
    page.goto(f"{url}/#/review/{bench.session_id}/needle-phases/phase")
    page.wait_for_function("S.view && S.view.data && S.view.review")
    page.wait_for_selector("#answers tr:nth-child(4)")  # header + three answers
    shot(page, tmp_path, "workbench-review.png")
    accepted, corrected = by[("alice", "approach")].id, by[("bob", "contact")].id
    page.click(f"button[data-accept='{accepted}']")
    page.wait_for_selector("#status:has-text('accept done')")
    # bob's contact (10 %–50 %) really ends at 30 %: drag the end of his interval there
    page.click(f"button[data-edit='{corrected}']")
    page.wait_for_selector("#edit-span:has-text('select') , #edit-span:has-text('→')")
    drag(page, "force", 0.50, 0.30)
    page.wait_for_function(
        "S.view.sel && S.view.sel[1] < S.view.rec.start_ns + 0.35 * "
        "(S.view.rec.end_ns - S.view.rec.start_ns)"
    )
    shot(page, tmp_path, "workbench-review-correct.png")
    page.select_option(f"select[data-correct-value='{corrected}']", "approach")
    page.fill(f"input[data-rationale='{corrected}']", "force is flat: no contact yet")
    page.click(f"button[data-correct='{corrected}']")
    page.wait_for_selector("#status:has-text('correct done')")
    page.close()

    with open_dataset(bench.dir) as ds:
        answers, reviews = ds.store.log_tables()
    assert [(a.annotator_id, a.value, a.supersedes) for a in answers] == [
        ("alice", "approach", None),
        ("alice", "insertion", None),
        ("bob", "contact", None),
        ("carol", "approach", corrected),
    ]
    assert answers[3].rationale == "force is flat: no contact yet"
    # the correction has the new end and bob's start; bob's own answer is unchanged
    bob = by[("bob", "contact")]
    assert (answers[2].t0_ns, answers[2].t1_ns) == (bob.t0_ns, bob.t1_ns)
    assert answers[3].t0_ns == bob.t0_ns and answers[3].t1_ns is not None
    assert abs((answers[3].t1_ns - bench.start_ns) / span - 0.30) < 0.01
    assert [(r.decision, r.annotator_id, r.reviewer_id) for r in reviews] == [
        ("accepted", "alice", "carol"),
        ("corrected", "bob", "carol"),
    ]
    assert reviews[0].answer_id == accepted and reviews[1].answer_id == answers[3].id


def frame_at(bench: Bench, host_ns: float) -> tuple[int, int]:
    """(pts, host ns) of the last frame captured at or before `host_ns`."""
    before = [f for f in bench.frames if f[1] <= host_ns]
    return before[-1] if before else bench.frames[0]


def shown_at(bench: Bench, video_s: float) -> tuple[int, int]:
    """(pts, host ns) of the frame on screen at `video_s` seconds into the file."""
    return [f for f in bench.frames if f[0] / FPS <= video_s + 1e-6][-1]


def grey_on_screen(page: Page) -> int:
    """The grey level of the left half of the video's picture on screen."""
    return int(
        page.evaluate(
            """() => { const v = document.querySelector('#video');
            const c = document.createElement('canvas');
            c.width = v.videoWidth; c.height = v.videoHeight; const g = c.getContext('2d');
            g.drawImage(v, 0, 0); return g.getImageData(20, 60, 1, 1).data[0]; }"""
        )
    )


def test_video_and_plots_follow_each_other(
    filmed: tuple[str, Bench], browser: Browser, tmp_path: Path
) -> None:
    url, bench = filmed
    page = log_in(browser, url, "alice")
    page.goto(f"{url}/#/session/{bench.session_id}")
    page.wait_for_function(
        "S.view && S.view.data && S.view.frames && document.querySelector('#video').readyState >= 2"
    )
    h264 = 'video/mp4; codecs="avc1.42E01E"'  # what VideoWriter writes (libx264)
    assert page.evaluate(f"document.createElement('video').canPlayType('{h264}')")
    assert page.evaluate("S.view.frames.vs.length") == len(bench.frames)

    # per-panel scales: over the whole session the depth axis spans 0 … 1 mm
    lo, hi = page.evaluate("S.view.scales.depth")
    assert lo < 0 < 0.001 < hi < 0.0012
    # locked by a double-click on its axis, it keeps that scale while zooming in ...
    box = page.locator("canvas[data-panel=depth]").bounding_box()
    assert box is not None
    page.mouse.dblclick(box["x"] + 10, box["y"] + 40)
    page.wait_for_function("S.view.locks.depth !== null && S.view.locks.depth !== undefined")
    x, y = plot_x(page, "position", 0.25)
    page.mouse.move(x, y)
    for _ in range(8):  # 6 s · 0.8⁸ ≈ 1 s around 1.5 s, before the depth step at 3 s
        page.mouse.wheel(0, -100)
    page.wait_for_function("S.view.data.t1_ns - S.view.data.t0_ns < 1.2e9")
    assert page.evaluate("S.view.scales.depth") == [lo, hi]
    # ... and unlocked it fits the window's data again (flat zero depth there)
    page.mouse.dblclick(box["x"] + 10, box["y"] + 40)
    page.wait_for_function("!S.view.locks.depth")
    assert page.evaluate("S.view.scales.depth") != [lo, hi]

    # a click on the plots shows the picture taken at (or just before) the clicked time
    x, y = plot_x(page, "force", 0.5)
    page.mouse.click(x, y)
    cursor = float(page.evaluate("S.view.cursor"))
    pts, _ = frame_at(bench, cursor)
    page.wait_for_function(
        "(s) => { const v = document.querySelector('#video'); "
        "return !v.seeking && v.readyState >= 2 && Math.abs(v.currentTime - s) < 0.5 / 30; }",
        arg=pts / FPS,
    )
    assert abs(grey_on_screen(page) - grey_of(pts)) <= 1  # pts = the camera's slot
    assert page.evaluate("S.view.cursor") == cursor  # our own seek leaves the cursor be

    # playing moves the cursor with the picture, and the view pages along
    t0, t1 = page.evaluate("[S.view.t0, S.view.t1]")
    page.keyboard.press(" ")
    page.wait_for_function("(end) => S.view.cursor > end + 2e8", arg=t1, timeout=15_000)
    assert page.evaluate("S.view.t0") > t0  # the window followed the cursor
    page.keyboard.press(" ")
    page.wait_for_function("document.querySelector('#video').paused")
    page.wait_for_function("S.view.data.t0_ns === Math.round(S.view.t0)")  # fetched the new window
    shown = float(page.evaluate("document.querySelector('#video').currentTime"))
    assert page.evaluate("S.view.cursor") == shown_at(bench, shown)[1]
    assert page.locator("#cursor").is_visible()
    shot(page, tmp_path, "workbench-video.png")

    # before the camera's first picture: the first frame, and the player says so
    page.keyboard.press("0")
    page.wait_for_function("S.view.data.t0_ns === S.view.rec.start_ns")
    x, y = plot_x(page, "force", 0.03)
    page.mouse.click(x, y)
    page.wait_for_selector("#video-time:has-text('before the camera')")
    page.wait_for_function("document.querySelector('#video').currentTime < 0.5 / 30")
    page.close()
