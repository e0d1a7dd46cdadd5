"""``amaradar listen`` on a damaged link: rows invented and lost, frames lost per byte
error, resync time; and the link's false-accept rate.

Usage: ``python bench/bench_listen_fuzz.py [--quick | --scale F] [--workers W]``.
Writes ``bench/results/listen_fuzz.json`` (``--quick``: ``listen_fuzz_quick.json``);
``--scale F`` runs F times the full sizes of :data:`FULL` (``sizes`` in the JSON says
what ran).

Every stream goes through :func:`amaradar.host.listen.run_listen` on a replay file — the
decoder and the row path of ``amaradar listen`` — and a plain
:class:`amaradar.spec.link.Decoder` over the same bytes tells where each accepted
frame began. A stream is two CPIs of the default scenario's chain (L, M, N of its
radar): a status frame, then 2 or 3 reports per CPI, either detections (a range-only
chain) or plots and tracks (a range-Doppler chain), with random fields in the chain's
ranges.

1. ``byte_error_rates``: each sent byte independently suffers an error at rate p
   (10⁻⁶ … 10⁻²): a flipped bit, a dropped byte or a duplicated byte, one third each.
2. ``one_damaged_frame``: one frame per stream, chosen at random, suffers exactly one
   error of the kind named: ``flip``, ``drop``, ``dup`` (at a random byte) or
   ``cut`` (the frame truncated at a random byte, its rest never sent), so the
   per-error figures rest on many events.
3. ``false_accept``: trials of a clean status frame and one damaged frame, in files of
   many trials; every row listen writes from them (beyond one clean report first) is
   forged. ``flipped_4_to_8_bits``: a real frame (a report of the chain, or a status)
   with 4 to 8 distinct random bits flipped anywhere in it; ``random_frames``: the sync
   word, a type of the chain, its length, random payload and CRC bytes. ``theory``: the
   chance that a random frame passes the link's CRC and listen's plausibility check,
   from the CRC's width, the field widths of the link and the default chain's L and M,
   and, per case, ``forged_frames_expected``: trials × 2⁻³², the frames that pass the
   CRC if each damaged frame does so by chance (an upper estimate for flipped bits: 4
   or 5 flipped bits never pass it).

Figures per case: ``rows_invented`` (rows written that were not sent: must be 0),
``rows_lost`` and ``rows_lost_of_intact_frames`` (rows of frames that arrived undamaged
but were not written: 0 unless a forged frame swallowed them), ``frames_lost`` per byte
error, listen's ``crc_errors`` and ``implausible`` counts, and the resync time of each
damaged region (a run of damaged frames): bytes and intact frames lost from the
region's end, and bytes from its first error, to the next correctly decoded frame.
"""

import argparse
import io
import math
import multiprocessing
import random
import re
import tempfile
from collections import Counter
from pathlib import Path

from amaradar.host.listen import run_listen
from amaradar.host.writers.rows import DETECTION_CSV_COLUMNS, TRACK_CSV_COLUMNS
from amaradar.spec.link import (CRC_BYTES, DETECTION_FIELDS, HEADER_BYTES, PLOT_FIELDS, SYNC,
                                TRACK_FIELDS, TYPE_DETECTION, TYPE_PLOT, TYPE_STATUS,
                                TYPE_TRACK, Decoder, Detection, Plot, Status, Track, encode,
                                frame_bytes)
from amaradar.spec.records import CPI_WIDTH, POSITION_FRAC
from amaradar.sim.world.scenario import load_scenario

from machine import run_and_write

RESULTS = Path(__file__).parent / "results"
RADAR = load_scenario().radar
L, M, N = RADAR.line_samples, RADAR.pulses_per_cpi, RADAR.pulse_samples
RATES = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2)
KINDS = ("flip", "drop", "dup", "cut")
BYTE_ERRORS = ("flip", "drop", "dup")
TRACK_STATUSES = 3                         # tentative, confirmed, coasting
#: the report types of a range-only chain and of a range-Doppler chain
REPORTS = ((TYPE_DETECTION,), (TYPE_PLOT, TYPE_TRACK))
_FRAME_BYTES = {Detection: frame_bytes(TYPE_DETECTION), Plot: frame_bytes(TYPE_PLOT),
                Track: frame_bytes(TYPE_TRACK), Status: frame_bytes(TYPE_STATUS)}
CRC_PASS = 2.0 ** (-8 * CRC_BYTES)         # chance that a random frame passes the CRC
TRIALS_PER_FILE = 5000                     # false-accept trials in one replay file
CHUNK = 500                                # streams per task of the process pool
#: one wrap of the link's CPI counter, in seconds (the status frames' PRI is L samples)
WRAP_S = (1 << CPI_WIDTH) * M * L / round(RADAR.sample_rate_hz)
#: time_s in listen's rows (detections.csv holds detection or plot rows, alike there)
TIME_COLUMN = {"detections.csv": DETECTION_CSV_COLUMNS.index("time_s"),
               "tracks.csv": TRACK_CSV_COLUMNS.index("time_s")}
FULL = {"streams_per_rate": 200_000, "streams_per_kind": 50_000, "false_accept_trials": 1_000_000}
QUICK = {"streams_per_rate": 400, "streams_per_kind": 200, "false_accept_trials": 20_000}


def _status(cpi):
    return Status(cpi=cpi, flags=0, preset=0, dropped_samples=0, dropped_cap=0, dropped_full=0,
                  range_bins=L, pulses=M, sample_rate=round(RADAR.sample_rate_hz), pri=L,
                  pulse_samples=N)


def _report(rng, kind, cpi):
    """A random report of type ``kind`` in CPI ``cpi``, its fields in the chain's ranges."""
    power, threshold = rng.getrandbits(40), rng.getrandbits(40)
    if kind == TYPE_DETECTION:
        return Detection(cpi, rng.randrange(M), rng.randrange(L), power, threshold)
    if kind == TYPE_PLOT:
        return Plot(cpi, rng.randrange(L << POSITION_FRAC), rng.randrange(M << POSITION_FRAC),
                    power, threshold)
    return Track(cpi, rng.getrandbits(20), rng.randrange(TRACK_STATUSES),
                 rng.randrange(L << POSITION_FRAC), rng.randrange(-(1 << 24), 1 << 24),
                 rng.randrange(2), rng.randrange(256), rng.randrange(256), rng.randrange(33))


def sent_messages(rng):
    """The messages of one stream: two CPIs, each a status frame and 2 or 3 reports of
    a range-only chain (detections) or of a range-Doppler chain (plots and tracks)."""
    reports = rng.choice(REPORTS)
    cpi = rng.randrange(1 << 16)
    messages = []
    for step in range(2):
        c = (cpi + step) % (1 << 16)
        messages.append(_status(c))
        messages += [_report(rng, rng.choice(reports), c) for _ in range(rng.randrange(2, 4))]
    return messages


def _apply(frame, errors):
    """``frame`` with ``errors`` (offset, kind, bit) applied."""
    out = bytearray()
    at = {}
    for offset, kind, bit in errors:
        at.setdefault(offset, []).append((kind, bit))
    for i, byte in enumerate(frame):
        copies = 1
        for kind, bit in at.get(i, ()):
            if kind == "flip":
                byte ^= 1 << bit
            elif kind == "drop":
                copies = 0
            elif kind == "cut":
                return bytes(out)
            elif copies:
                copies += 1
        out += bytes([byte]) * copies
    return bytes(out)


def _rate_errors(rng, frames, rate):
    """Per frame, the byte errors at ``rate`` per byte (geometric gaps between them)."""
    errors = [[] for _ in frames]
    total = sum(len(f) for f in frames)
    starts, pos = [], 0
    for f in frames:
        starts.append(pos)
        pos += len(f)
    pos, j = -1, 0
    while True:
        pos += 1 + int(math.log(1.0 - rng.random()) / math.log1p(-rate))
        if pos >= total:
            return errors
        while starts[j] + len(frames[j]) <= pos:
            j += 1
        errors[j].append((pos - starts[j], rng.choice(BYTE_ERRORS), rng.randrange(8)))


def _one_error(rng, frames, kind):
    """One error of ``kind`` in one random frame (a cut keeps at least one byte)."""
    errors = [[] for _ in frames]
    j = rng.randrange(len(frames))
    low = 1 if kind == "cut" else 0
    errors[j].append((rng.randrange(low, len(frames[j])), kind, rng.randrange(8)))
    return errors


def _listen(data, tmp):
    """``run_listen`` on ``data``: (detections.csv rows, tracks.csv rows, its table)."""
    replay = tmp / "stream.bin"
    replay.write_bytes(data)
    stdout = io.StringIO()
    run_listen(replay=replay, out_dir=tmp / "out", stdout=stdout)
    rows = []
    for name in TIME_COLUMN:
        path = tmp / "out" / name
        rows.append(path.read_text().splitlines()[1:] if path.exists() else [])
        path.unlink(missing_ok=True)
    return rows[0], rows[1], stdout.getvalue()


def _table_count(table, label):
    found = re.search(rf"{label}\s+(\d+)", table)
    return int(found.group(1)) if found else 0


def _accepted(data):
    """(start, message) of every frame the link's decoder accepts in ``data``."""
    decoder = Decoder()
    messages = decoder.feed(data)
    gaps = decoder.gaps
    messages += decoder.finish()
    gaps += decoder.gaps
    out, pos = [], 0
    for message, gap in zip(messages, gaps):
        pos += gap
        out.append((pos, message))
        pos += _FRAME_BYTES[type(message)]
    return out


def _same_row(row, sent, column):
    """Whether listen's ``row`` is the row of a sent report, ``sent``: equal, but for
    ``time_s`` (column ``column``), which may differ by whole wraps of the CPI counter,
    listen's origin being the first CPI it hears."""
    a, b = row.split(","), sent.split(",")
    if a[:column] + a[column + 1:] != b[:column] + b[column + 1:]:
        return False
    if a[column] == b[column]:
        return True
    if not a[column] or not b[column]:
        return False
    wraps = (float(a[column]) - float(b[column])) / WRAP_S
    return abs(wraps - round(wraps)) * WRAP_S < 1.5e-3   # each rounded: 1 ms apart at most


def _match(got, want, column):
    """Greedy in-order match of rows ``got`` to ``want`` (each a tuple of the rows a sent
    report may make; ``time_s`` in column ``column``); (indices of ``want`` matched, rows
    invented)."""
    matched, invented, i = set(), 0, 0
    for row in got:
        k = i
        while k < len(want) and not any(_same_row(row, w, column) for w in want[k]):
            k += 1
        if k == len(want):
            invented += 1
        else:
            matched.add(k)
            i = k + 1
    return matched, invented


class _Tally:
    """The figures of one case, summed over streams."""

    COUNTS = ("streams", "bytes_sent", "frames_sent", "byte_errors", "frames_damaged",
              "frames_lost", "frames_forged", "rows_sent", "rows_written", "rows_invented",
              "rows_lost", "rows_lost_of_intact_frames", "crc_errors", "implausible",
              "regions_never_resynced")

    def __init__(self):
        self.counts = Counter(dict.fromkeys(self.COUNTS, 0))
        self.resync_bytes = Counter()
        self.resync_frames = Counter()
        self.bytes_from_error = Counter()

    def merge(self, other):
        for name in ("counts", "resync_bytes", "resync_frames", "bytes_from_error"):
            getattr(self, name).update(getattr(other, name))
        return self

    def summary(self):
        c = self.counts
        out = dict(sorted(c.items()))
        out["frames_lost_per_byte_error"] = c["frames_lost"] / c["byte_errors"] \
            if c["byte_errors"] else None
        out["resync"] = {
            "regions": sum(self.resync_frames.values()),
            "bytes_after_region": _stats(self.resync_bytes),
            "frames_after_region": _stats(self.resync_frames),
            "bytes_from_first_error": _stats(self.bytes_from_error),
        }
        return out


def _stats(histogram):
    n = sum(histogram.values())
    if not n:
        return None
    ordered = sorted(histogram.items())

    def quantile(q):
        seen = 0
        for value, count in ordered:
            seen += count
            if seen >= q * n:
                return value
    return {"mean": round(sum(v * k for v, k in ordered) / n, 3), "median": quantile(0.5),
            "p99": quantile(0.99), "max": ordered[-1][0]}


def fuzz_streams(mode, param, seed, count, tmp):
    """Run ``count`` streams of one case: ``mode`` ``"rate"`` (``param`` the byte error
    rate) or ``"kind"`` (``param`` one of :data:`KINDS`); return its :class:`_Tally`."""
    rng = random.Random(seed)
    tally = _Tally()
    c = tally.counts
    for _ in range(count):
        messages = sent_messages(rng)
        frames = [encode(m) for m in messages]
        errors = _rate_errors(rng, frames, param) if mode == "rate" else \
            _one_error(rng, frames, param)
        received = [_apply(f, e) if e else f for f, e in zip(frames, errors)]
        damaged = [r != f for r, f in zip(received, frames)]
        data = b"".join(received)
        c["streams"] += 1
        c["bytes_sent"] += sum(map(len, frames))
        c["frames_sent"] += len(frames)
        c["byte_errors"] += sum(map(len, errors))
        c["frames_damaged"] += sum(damaged)
        detections, tracks, table = _listen(data, tmp)
        reports = [(j, m) for j, m in enumerate(messages) if not isinstance(m, Status)]
        c["rows_sent"] += len(reports)
        c["rows_written"] += len(detections) + len(tracks)
        c["crc_errors"] += _table_count(table, "CRC errors")
        c["implausible"] += _table_count(table, "implausible")
        if not any(damaged):
            continue
        want_d, want_t, _ = _listen(b"".join(frames), tmp)
        is_track = [isinstance(m, Track) for _, m in reports]
        kept = set()
        for got, want, track, name in ((detections, want_d, False, "detections.csv"),
                                       (tracks, want_t, True, "tracks.csv")):
            column = TIME_COLUMN[name]
            index = [j for (j, _), t in zip(reports, is_track) if t == track]
            matched, invented = _match(got, [(w,) for w in want], column)
            if invented:    # a lost status frame: the rows before the next one lack its words
                blind = _listen(b"".join(f for f, m in zip(frames, messages)
                                         if not isinstance(m, Status)), tmp)[track]
                matched, invented = _match(got, list(zip(want, blind)), column)
            c["rows_invented"] += invented
            kept |= {index[k] for k in matched}
            c["rows_lost_of_intact_frames"] += sum(
                1 for k, j in enumerate(index) if k not in matched and not damaged[j])
        c["rows_lost"] += len(reports) - len(kept)
        _resync(tally, messages, received, damaged, errors, _accepted(data))
    return tally


def _resync(tally, messages, received, damaged, errors, accepted):
    """Frames lost, forged, and the resync time of each damaged region."""
    c = tally.counts
    spans, pos = [], 0
    for r in received:
        spans.append((pos, pos + len(r)))
        pos += len(r)
    # sent frame -> start of its accepted copy: the same message, its bytes overlapping
    # the frame's (it may begin on the frame before's last byte: see the link's Decoding)
    correct, j = {}, 0
    for start, message in accepted:
        k, end = j, start + _FRAME_BYTES[type(message)]
        while k < len(messages) and not (messages[k] == message
                                         and start < spans[k][1] and end > spans[k][0]):
            k += 1
        if k == len(messages):
            c["frames_forged"] += 1
        else:
            correct[k] = start
            j = k + 1
    c["frames_lost"] += len(messages) - len(correct)
    j = 0
    while j < len(messages):
        if not damaged[j]:
            j += 1
            continue
        first = j
        while j + 1 < len(messages) and damaged[j + 1]:
            j += 1
        end = spans[j][1]
        error_at = spans[first][0] + min(e[0] for e in errors[first])
        following = [k for k in correct if k > j]
        if j + 1 < len(messages):
            if following:
                k = min(following)
                tally.resync_bytes[correct[k] - end] += 1
                tally.resync_frames[k - j - 1] += 1
                tally.bytes_from_error[correct[k] - error_at] += 1
            else:
                c["regions_never_resynced"] += 1
        j += 1


def false_accept_trials(how, reports, seed, count, tmp):
    """``count`` trials of a clean status frame and one damaged frame of a status or a
    report of a type in ``reports`` (``how``: ``"flipped"`` 4 to 8 bits, or a
    ``"random"`` frame), in one replay file through listen."""
    rng = random.Random(seed)
    status = encode(_status(0))
    first = _report(rng, reports[0], 0)          # sets the schema of detections.csv
    parts, sent = [status, encode(first)], {_status(0), first}
    c = Counter(forged_frames_accepted=0)
    for _ in range(count):
        kind = rng.choice(reports + (TYPE_STATUS,))
        if how == "flipped":
            cpi = rng.randrange(1 << 16)
            message = _status(cpi) if kind == TYPE_STATUS else _report(rng, kind, cpi)
            sent.add(message)
            frame = bytearray(encode(message))
            for bit in rng.sample(range(8 * len(frame)), rng.randrange(4, 9)):
                frame[bit // 8] ^= 1 << (bit % 8)
        else:
            size = frame_bytes(kind)
            frame = SYNC + bytes([kind, size - HEADER_BYTES - CRC_BYTES]) \
                + rng.randbytes(size - HEADER_BYTES)
        parts += [status, bytes(frame)]
    data = b"".join(parts)
    detections, tracks, table = _listen(data, tmp)
    c["trials"] = count
    c["forged_rows_written"] = len(detections) + len(tracks) - 1
    c["implausible"] = _table_count(table, "implausible")
    c["crc_errors"] = _table_count(table, "CRC errors")
    for _, message in _accepted(data):
        if message not in sent:
            c["forged_frames_accepted"] += 1
            c[f"forged_{type(message).__name__.lower()}_frames"] += 1
    return c


def _task(args):
    kind, case, seed, count = args
    with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as d:
        if kind == "false_accept":
            return kind, case, false_accept_trials(*case, seed, count, Path(d))
        return kind, case, fuzz_streams(*case, seed, count, Path(d))


def _tasks(sizes):
    seed = 0
    cases = [("rates", ("rate", r), sizes["streams_per_rate"], CHUNK) for r in RATES] + \
        [("kinds", ("kind", k), sizes["streams_per_kind"], CHUNK) for k in KINDS] + \
        [("false_accept", (how, reports), sizes["false_accept_trials"] // 2, TRIALS_PER_FILE)
         for how in ("flipped", "random") for reports in REPORTS]
    for kind, case, total, chunk in cases:
        while total > 0:
            seed += 1
            yield kind, case, seed, min(chunk, total)
            total -= chunk


def theory():
    """The chance that a frame of random payload and CRC passes the link's CRC and
    listen's plausibility check, per type, from the CRC's width, the field widths and
    the default chain's L, M."""
    span = {kind: {name: 1 << 8 * size for name, size in fields}
            for kind, fields in (("detection", DETECTION_FIELDS), ("plot", PLOT_FIELDS),
                                 ("track", TRACK_FIELDS))}
    cells = L << POSITION_FRAC
    plausible = {
        "detection": M / span["detection"]["pulse"] * L / span["detection"]["range_bin"],
        "plot": cells / span["plot"]["range_pos"]
        * (M << POSITION_FRAC) / span["plot"]["doppler_pos"],
        "track": TRACK_STATUSES / span["track"]["status"] * cells / span["track"]["range_pos"],
    }
    return {"crc_bits": 8 * CRC_BYTES, "crc_pass": CRC_PASS,
            "plausible_fraction_of_random_payloads": plausible,
            "forged_row_per_random_frame": {k: v * CRC_PASS for k, v in plausible.items()}}


def run(sizes, workers):
    """The whole bench at ``sizes`` (see :data:`FULL`) on ``workers`` processes."""
    rates = {r: _Tally() for r in RATES}
    kinds = {k: _Tally() for k in KINDS}
    accept = {}
    with multiprocessing.Pool(workers) as pool:
        for kind, case, result in pool.imap_unordered(_task, list(_tasks(sizes))):
            if kind == "rates":
                rates[case[1]].merge(result)
            elif kind == "kinds":
                kinds[case[1]].merge(result)
            else:
                accept.setdefault(case[0], Counter()).update(result)
    false_accept = {}
    for how, c in sorted(accept.items()):
        entry = dict(sorted(c.items()))
        entry["forged_frames_per_million"] = 1e6 * c["forged_frames_accepted"] / c["trials"]
        entry["forged_rows_per_million"] = 1e6 * c["forged_rows_written"] / c["trials"]
        entry["forged_frames_expected"] = c["trials"] * CRC_PASS
        false_accept["flipped_4_to_8_bits" if how == "flipped" else "random_frames"] = entry
    false_accept["theory"] = theory()
    return {
        "chain": {"range_bins": L, "pulses": M, "pulse_samples": N,
                  "source": "the default scenario's radar"},
        "workers": workers,
        "streams": sum(t.counts["streams"] for t in (*rates.values(), *kinds.values())),
        "byte_error_rates": [{"rate": r, **t.summary()} for r, t in rates.items()],
        "one_damaged_frame": [{"kind": k, **t.summary()} for k, t in kinds.items()],
        "false_accept": false_accept,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true", help="a small run, for a smoke test")
    sizes.add_argument("--scale", type=float, default=1.0,
                       help="run this fraction (or multiple) of the full sizes (default 1)")
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    args = parser.parse_args()
    if not args.scale > 0:
        parser.error(f"--scale must be above 0, not {args.scale}")
    sizes = QUICK if args.quick else {k: max(1, round(v * args.scale)) for k, v in FULL.items()}
    name = "listen_fuzz_quick.json" if args.quick else "listen_fuzz.json"
    run_and_write(lambda: {"sizes": sizes, **run(sizes, args.workers)}, RESULTS / name)


if __name__ == "__main__":
    main()
