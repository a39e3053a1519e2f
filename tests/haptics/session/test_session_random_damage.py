"""Random damage to stream files: every reader, QA and repair answer with a message (never an
unexpected exception), QA notices, and repair keeps every batch the damage did not touch."""

import shutil
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from session_builders import batch_spans, write_session

from haptics.errors import SessionError
from haptics.session.qa import qa_report
from haptics.session.reading import open_session, summarize
from haptics.session.repair import repair_session
from haptics.session.streams import scan_stream

STREAMS = ("state", "command", "telemetry")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_session(tmp_path_factory.mktemp("pristine") / "s", n=600, batch=50)


damage = st.one_of(
    st.tuples(
        st.just("flip"),
        st.lists(st.tuples(st.floats(0, 1), st.integers(0, 7)), min_size=1, max_size=4),
    ),
    st.tuples(st.just("cut"), st.floats(0, 1)),
    st.tuples(st.just("overwrite"), st.floats(0, 1), st.binary(min_size=1, max_size=300)),
)


def _apply(path: Path, what: tuple) -> list[tuple[int, int]]:  # type: ignore[type-arg]
    data = bytearray(path.read_bytes())
    size = len(data)
    if what[0] == "flip":
        touched = []
        for where, bit in what[1]:
            i = min(size - 1, int(where * size))
            data[i] ^= 1 << bit
            touched.append((i, i + 1))
        path.write_bytes(bytes(data))
        return touched
    if what[0] == "cut":
        at = int(what[1] * size)
        path.write_bytes(bytes(data[:at]))
        return [(at, size)]
    at = min(size - 1, int(what[1] * size))
    blob = what[2][: size - at]
    data[at : at + len(blob)] = blob
    path.write_bytes(bytes(data))
    return [(at, at + len(blob))]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(stream=st.sampled_from(STREAMS), what=damage)
def test_random_damage_is_named_and_repair_keeps_what_it_did_not_touch(
    pristine: Path,
    tmp_path: Path,
    stream: str,
    what: tuple,  # type: ignore[type-arg]
) -> None:
    session = tmp_path / "s"
    shutil.rmtree(session, ignore_errors=True)
    shutil.copytree(pristine, session)
    file = session / f"{stream}.arrows"
    spans = batch_spans(file)
    original = scan_stream(file).batches
    touched = _apply(file, what)
    changed = file.read_bytes() != (pristine / f"{stream}.arrows").read_bytes()

    s = open_session(session)
    summary = summarize(s, verify=True)  # never raises for a damaged stream
    report = qa_report(open_session(session))
    if changed:
        assert not report["passed"] and stream in report["problems"]
        assert f"{stream}.arrows" in report["problems"][stream]
        assert stream in summary["problems"]

    try:
        repair_session(session)
    except SessionError as exc:  # only when the file is no Arrow stream at all
        assert f"{stream}.arrows" in str(exc)
        return
    kept = [
        b
        for b, (lo, hi) in zip(original, spans, strict=True)
        if b.num_rows and not any(lo < t_hi and t_lo < hi for t_lo, t_hi in touched)
    ]
    after = [b for b in pa.ipc.open_stream(str(file)) if b.num_rows]
    it = iter(after)
    for b in kept:  # in order, bit for bit (a damaged batch that still parses may sit between)
        assert any(b.equals(a) for a in it), "an intact batch was lost"
