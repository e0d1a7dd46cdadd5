"""`amaradar listen` on a damaged link, property-based: whatever bytes are flipped,
dropped, duplicated or cut off inside frames, listen writes exactly the rows of the
frames that arrived whole — no invented row, no row lost beyond the damaged frames
(it resyncs at the next frame) — and counts the damaged frames that passed the
sync and length checks as CRC errors."""

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from amaradar.host.listen import run_listen
from amaradar.spec.link import SYNC, Plot, Status, Track, encode

L, M = 1000, 16
STATUS = Status(cpi=0, flags=0, preset=0, dropped_samples=0, dropped_cap=0, dropped_full=0,
                range_bins=L, pulses=M, sample_rate=1_000_000, pri=L, pulse_samples=13)

plots = st.builds(Plot, cpi=st.just(0), range_pos=st.integers(0, (L << 8) - 1),
                  doppler_pos=st.integers(0, (M << 8) - 1), power=st.integers(0, 1 << 40),
                  threshold=st.integers(0, 1 << 40))
tracks = st.builds(Track, cpi=st.just(0), track_id=st.integers(0, 1 << 20),
                   status=st.integers(0, 2), range_pos=st.integers(0, (L << 8) - 1),
                   range_rate=st.integers(-(1 << 24), 1 << 24), unfolded=st.integers(0, 1),
                   age=st.integers(0, 255), misses=st.integers(0, 255), plot=st.integers(0, 32))


@st.composite
def sessions(draw):
    """Messages in CPI order (so no CPI wraps), and for each whether and how it is damaged."""
    messages = draw(st.lists(st.one_of(plots, tracks), min_size=1, max_size=40))
    cpis = sorted(draw(st.lists(st.integers(0, 30_000), min_size=len(messages),
                                max_size=len(messages))))
    messages = [m._replace(cpi=c) for m, c in zip(messages, cpis)]
    damage = draw(st.lists(st.sampled_from([None, None, None, "flip", "drop", "dup", "cut"]),
                           min_size=len(messages), max_size=len(messages)))
    where = draw(st.lists(st.integers(0, 10_000), min_size=len(messages), max_size=len(messages)))
    return messages, damage, where


def _damaged(frame, how, where):
    """``frame`` damaged inside: a drop or a cut never takes only its first byte or
    only a run of sync-word first bytes at its end (the frame before may end, the next
    one always starts, with such a byte: the bytes would be those of a neighbour's
    damage), and a duplicate never copies its first or last byte (the copy would be
    garbage beside the frame)."""
    k = where % len(frame)
    inner = len(frame.rstrip(SYNC[:1]))   # the bytes up to its last one that is no 0xEB
    if how == "flip":
        return frame[:k] + bytes([frame[k] ^ (1 << (where % 8))]) + frame[k + 1:]
    if how == "drop":
        k = 1 + where % (inner - 1)
        return frame[:k] + frame[k + 1:]
    if how == "dup":
        k = 1 + where % (len(frame) - 2)
        return frame[:k + 1] + frame[k:]
    return frame[:max(1, where % inner)]                       # cut: a truncated frame


def _listen(tmp_path, name, data):
    (tmp_path / f"{name}.bin").write_bytes(data)
    stdout = io.StringIO()
    run_listen(replay=tmp_path / f"{name}.bin", out_dir=tmp_path / name, stdout=stdout)
    rows = {}
    for csv_name in ("detections.csv", "tracks.csv"):
        path = tmp_path / name / csv_name
        rows[csv_name] = path.read_text().splitlines()[1:] if path.exists() else []
    return rows, stdout.getvalue()


@settings(max_examples=60, deadline=None, derandomize=True)
@given(sessions())
def test_damaged_frames_are_lost_whole_and_nothing_else(tmp_path_factory, session):
    messages, damage, where = session
    tmp_path = tmp_path_factory.mktemp("fuzz")
    head = encode(STATUS)
    clean = head + b"".join(encode(m) for m in messages)
    dirty = head + b"".join(encode(m) if how is None else _damaged(encode(m), how, at)
                            for m, how, at in zip(messages, damage, where))
    want, _ = _listen(tmp_path, "clean", clean)
    got, table = _listen(tmp_path, "dirty", dirty)
    intact = {Plot: [], Track: []}
    for m, how in zip(messages, damage):
        intact[type(m)].append(how is None)
    assert got["detections.csv"] == [r for r, ok in zip(want["detections.csv"], intact[Plot]) if ok]
    assert got["tracks.csv"] == [r for r, ok in zip(want["tracks.csv"], intact[Track]) if ok]
    assert f"frames {1 + sum(how is None for how in damage):>8}" in table


def test_impossible_reports_are_counted_not_written(tmp_path):
    """Frames whose CRC is right but whose fields the status frame rules out (a CRC
    passed by chance): a plot beyond the line or the Doppler bins, a track of unknown
    status or beyond the line."""
    good = Plot(cpi=1, range_pos=5 << 8, doppler_pos=3 << 8, power=9, threshold=3)
    bad = [good._replace(range_pos=L << 8), good._replace(doppler_pos=M << 8),
           Track(1, 7, 3, 5 << 8, 0, 0, 1, 0, 0), Track(1, 7, 1, L << 8, 0, 0, 1, 0, 0)]
    rows, table = _listen(tmp_path, "bad", encode(STATUS) + b"".join(encode(m) for m in bad)
                          + encode(good))
    assert len(rows["detections.csv"]) == 1 and rows["tracks.csv"] == []
    assert "implausible 4" in table
