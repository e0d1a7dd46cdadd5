"""``run_centre``: the sites' feeds in, ``OUT/centre/`` out."""

import csv
import json
from collections import Counter
from pathlib import Path

from .cat062 import cat062_blocks
from .centre import CentreConfig
from .decision import Decisions, JointRule
from .feed import FeedDecoder, screen_plain
from .geometry import site_positions
from .map_figure import write_map
from .replay import Stepper, decode_feeds
from .score import score, site_errors

__all__ = ["COLUMNS", "run_centre"]

COLUMNS = ("time_s", "system_track_id", "east_m", "north_m", "east_mps", "north_mps",
           "sigma_east_m", "sigma_north_m", "sites")


def _write_csv(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.3f}" if isinstance(v, float) else v) for k, v in row.items()})


def run_centre(sites, feeds, out_dir, *, truth=None, rule=None, config=None, progress=None,
               screen=screen_plain, live=()):
    """Fuse the sites' feeds into system tracks and write ``out_dir/centre/``.

    Parameters
    ----------
    sites : list of Site
        The first is the frame's origin and the default defended point.
    feeds : dict
        ``{site name: datagrams}`` (bytes each: a file's or a site's UDP feed), and
        ``{None: datagrams}`` for datagrams of any site (a shared UDP port), which
        ``screen`` vets first (see :mod:`.feed`).
    out_dir : path
    truth : list of dict, optional
        ``truth.csv`` rows, for the scores in ``report.json``.
    rule : JointRule, optional
        The joint decision (default: ``any``).
    config : CentreConfig, optional
        Default: the defaults, at the fastest site's CPI.
    live : iterable of bytes
        Datagrams of any site as they arrive (e.g. a UDP socket's), vetted by
        ``screen`` and fused as they come, after ``feeds``.
    progress : callable, optional
        Called with one line of text per stage.

    Returns
    -------
    dict
        The report, as written to ``report.json``, plus ``rows``: the rows of
        ``system_tracks.csv``.
    """
    say = progress or (lambda text: None)
    positions = site_positions(sites)
    decoder = FeedDecoder(sites)
    reports = decode_feeds(decoder, feeds, screen)
    rule = rule or JointRule()
    decisions = Decisions(rule, [s.name for s in sites])
    rows, steps = [], []

    def on_step(time_s, centre):
        step_rows = centre.rows(time_s)
        rows.extend(step_rows)
        steps.append((time_s, step_rows, {t.track_id: time_s - t.last_update_s
                                          for t in centre.tracks.values()},
                      {t.track_id for t in centre.tracks.values()
                       if any(r.simulated for r in t.evidence.values())}))
        decisions.step(time_s, centre.tracks.values())

    stepper = Stepper(positions, config or CentreConfig(), on_step)
    stepper.add(reports)
    for datagram in live:
        live_reports = decoder.decode(datagram, screen)
        reports += live_reports
        stepper.add(live_reports)
    centre = stepper.finish()
    config = stepper.config
    say(f"decoded {len(reports)} track reports from {len(sites)} sites")
    say(f"{len(rows)} system track rows, {centre.next_id - 1} system tracks, "
        f"{sum(d['decision'] == 'declared' for d in decisions.log)} declarations")
    out = Path(out_dir) / "centre"
    out.mkdir(parents=True, exist_ok=True)
    _write_csv(out / "system_tracks.csv", rows)
    with open(out / "declarations.jsonl", "w") as f:
        for entry in decisions.log:
            f.write(json.dumps(entry) + "\n")
    with open(out / "cat062.ast", "wb") as f:
        for block in cat062_blocks(steps, sites[0]):
            f.write(block)
    write_map(out / "map.png", positions, rows, reports, truth)
    contributions = Counter(s for row in rows for s in row["sites"].split("+") if s)
    report = {
        "period_s": config.period_s,
        "time_alignment": "fixed period (the fastest site's CPI); each site track's latest "
                          "report extrapolated to the step",
        "sites": {s.name: {"records": decoder.counts[(s.name, "records")],
                           "track_reports": decoder.counts[(s.name, "reports")],
                           "system_track_rows": contributions[s.name]} for s in sites},
        "rejected": {reason: n for (site, reason), n in decoder.counts.items() if site is None},
        "system_tracks": centre.next_id - 1,
        "pairings_rejected": sum(b.rejected for b in centre.books.values()),
        "rule": rule.name,
        "declarations": [d for d in decisions.log if d["decision"] == "declared"],
        "withheld": [d for d in decisions.log if d["decision"] == "withheld"],
        "score": None if truth is None else score(rows, truth),
        "single_site": None if truth is None else site_errors(reports, positions, truth),
    }
    (out / "report.json").write_text(json.dumps(report, indent=1))
    report["rows"] = rows
    return report
