"""The workbench in a real browser: Debian's headless Chromium driven by Playwright, against
a real uvicorn server on a real socket. Two annotators label intervals with the mouse and the
keyboard, a reviewer accepts one answer and corrects another, and the label store then holds
exactly those answers and decisions.

Screenshots of the queue, the session view and review mode are written to the test's folder,
and to docs/images/ when HAPTICS_UPDATE_SCREENSHOTS=1 (how the README's images are made).
"""

from __future__ import annotations

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
from tests.haptics.web.workbench_builders import PASSWORD, Bench, make_dataset

CHROMIUM = "/usr/lib/chromium/chromium"  # Debian's `chromium` (scripts/install-system-deps.sh)
IMAGES = Path(__file__).resolve().parents[3] / "docs" / "images"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Bench]]:
    """A uvicorn server of the workbench over a dataset with a 6 s session."""
    bench = make_dataset(tmp_path / "ds", n=6000)
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
        yield f"http://127.0.0.1:{port}", bench
    finally:
        srv.should_exit = True
        th.join(10)


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


def drag_and_label(page: Page, x0: float, x1: float, key: str) -> None:
    """Drag across the force plot from x0 to x1 (fractions of its width), press `key`."""
    box = page.locator("canvas[data-panel=force]").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + x0 * box["width"], y)
    page.mouse.down()
    page.mouse.move(box["x"] + x1 * box["width"], y, steps=8)
    page.mouse.up()
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
    assert [(r.decision, r.annotator_id, r.reviewer_id) for r in reviews] == [
        ("accepted", "alice", "carol"),
        ("corrected", "bob", "carol"),
    ]
    assert reviews[0].answer_id == accepted and reviews[1].answer_id == answers[3].id
