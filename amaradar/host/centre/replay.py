"""Run the centre over recorded feeds: decode, find the update period, step."""

import numpy as np

from .centre import Centre
from .feed import screen_plain

__all__ = ["report_period_s", "step_phase_s", "decode_feeds", "replay"]


def report_period_s(reports):
    """The fastest site's CPI: the shortest, over sites, mean interval between the
    site's successive report times (those below 1.5 times the median: a stream's
    gaps left out; the mean, as the 1/128 s time stamps jitter each interval);
    None with fewer than two times at every site."""
    periods = []
    for site in sorted({r.site for r in reports}):
        gaps = np.diff(np.unique([r.time_s for r in reports if r.site == site]))
        if len(gaps):
            periods.append(float(np.mean(gaps[gaps < 1.5 * np.median(gaps)])))
    return min(periods) if periods else None


def step_phase_s(reports, period_s):
    """The step instants' phase in ``[0, period_s)``: as far as can be from every site's
    report times modulo the period (their circular mean), so that a report's 1/128 s
    time stamp jitter never moves it across a step."""
    phases = []
    for site in sorted({r.site for r in reports}):
        angles = 2 * np.pi * np.array([r.time_s for r in reports if r.site == site]) / period_s
        phases.append(np.angle(np.exp(1j * angles).mean()) % (2 * np.pi))
    if not phases:
        return 0.0
    phases = np.sort(phases)
    gaps = np.diff(np.concatenate([phases, [phases[0] + 2 * np.pi]]))
    widest = int(np.argmax(gaps))
    return float((phases[widest] + gaps[widest] / 2) % (2 * np.pi) / (2 * np.pi) * period_s)


def decode_feeds(decoder, feeds, screen=screen_plain):
    """Every report of ``feeds`` (``{site name: datagrams}``; the records of a named
    feed must be that site's; those of the key ``None`` go through ``screen``), sorted
    by time."""
    reports = []
    for name, datagrams in feeds.items():
        named = screen if name is None else (lambda d, name=name: (name, d))
        reports += [r for d in datagrams for r in decoder.decode(d, named)]
    return sorted(reports, key=lambda r: r.time_s)


def replay(positions, reports, config, on_step=None):
    """Step a :class:`Centre` over time-sorted ``reports`` at ``config.period_s`` (the
    instants at :func:`step_phase_s`), from the first report to the last;
    ``on_step(time_s, centre)`` after each step. Returns the centre."""
    centre = Centre(positions, config)
    if not reports:
        return centre
    period = config.period_s
    phase = step_phase_s(reports, period)
    start = phase + np.ceil((reports[0].time_s - phase) / period) * period
    steps = int(np.ceil((reports[-1].time_s - start) / period)) + 1
    at = 0
    for k in range(steps):
        t = start + k * period
        batch = []
        while at < len(reports) and reports[at].time_s <= t + 1e-9:
            batch.append(reports[at])
            at += 1
        centre.step(t, batch)
        if on_step is not None:
            on_step(t, centre)
    return centre
