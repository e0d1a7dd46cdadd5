"""Run the centre over the feeds: decode, find the update period, step."""

from dataclasses import replace

import numpy as np

from .centre import Centre
from .feed import screen_plain

__all__ = ["report_period_s", "step_phase_s", "decode_feeds", "Stepper"]


def report_period_s(reports, span=8):
    """The fastest site's CPI: over sites, the shortest of each site's period, the
    median over its report times of ``(t[i + span] - t[i]) / span`` (a 1/128 s time
    stamp's jitter divided by ``span``; a stream's gaps are outliers of the median),
    then the mean of those within 10 % of it; a site with ``span`` intervals or fewer
    gives the median of its intervals. None with fewer than two times at every site."""
    periods = []
    for site in sorted({r.site for r in reports}):
        times = np.unique([r.time_s for r in reports if r.site == site])
        if len(times) > span + 1:
            spans = (times[span:] - times[:-span]) / span
            median = np.median(spans)
            periods.append(float(np.mean(spans[np.abs(spans - median) <= 0.1 * median])))
        elif len(times) > 1:
            periods.append(float(np.median(np.diff(times))))
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


class Stepper:
    """Step a :class:`Centre` as reports arrive, at ``config.period_s`` (None: the
    fastest site's CPI, :func:`report_period_s`, once the reports span ``warmup_s``),
    the instants at :func:`step_phase_s` of the reports then held.

    The step at ``t`` runs once a report later than ``t + period`` has arrived (a
    site's reports may come up to a period late); a report older than the step it
    arrives for is used there, extrapolated back. ``on_step(time_s, centre)`` after
    each step; :meth:`finish` steps up to the last report.
    """

    def __init__(self, positions, config, on_step=None, *, warmup_s=3.0):
        self.positions, self.config, self.on_step = positions, config, on_step
        self.warmup_s = warmup_s
        self.centre, self.next_s, self.latest_s, self.held = None, None, -np.inf, []

    def add(self, reports):
        self.held.extend(reports)
        self.latest_s = max([self.latest_s] + [r.time_s for r in reports])
        if self.centre is None and self.held:
            self._start(final=False)
        if self.centre is not None:
            self._run_until(self.latest_s - self.config.period_s)

    def finish(self):
        """Step up to the last report; returns the centre."""
        if self.centre is None:
            self._start(final=True)
        if self.held:
            self._run_until(max(r.time_s for r in self.held))
        return self.centre

    def _start(self, final):
        period = self.config.period_s
        times = [r.time_s for r in self.held]
        if period is None:
            if not final and (not times or max(times) - min(times) < self.warmup_s):
                return
            period = report_period_s(self.held) or 1.0
        self.config = replace(self.config, period_s=period)
        self.centre = Centre(self.positions, self.config)
        if times:
            phase = step_phase_s(self.held, period)
            self.next_s = phase + np.ceil((min(times) - phase) / period) * period

    def _run_until(self, until_s):
        period = self.config.period_s
        while self.next_s is not None and self.next_s <= until_s + 1e-9:
            t = self.next_s
            batch = [r for r in self.held if r.time_s <= t + 1e-9]
            self.held = [r for r in self.held if r.time_s > t + 1e-9]
            self.centre.step(t, batch)
            if self.on_step is not None:
                self.on_step(t, self.centre)
            self.next_s = t + period
