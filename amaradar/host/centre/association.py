"""Pairing site tracks across two sites, with multilateration ghosts rejected.

Two range circles cross in two points; the one outside either beam is dropped.
With ``k`` targets seen by both sites there are ``k**2`` pairings, and the ``k**2 - k``
ghosts among them are kinematically consistent to first order (a ghost moves with
the velocity its two range rates give). What tells them apart is the second
order: a ghost's path bends (its range accelerations do not match a straight
path at the speed its range rates solve to) and drifts out of the beams. So every
pairing runs its own extended Kalman filter (constant velocity, small process
noise ``accel_sigma``) on both sites' range and range rate, and scores itself by
the sum of its normalised innovations squared (NIS, 4 degrees of freedom per
step) over the last ``window`` steps; it dies when that mean passes ``nis_max`` or
its estimate leaves either beam. After ``window`` steps the pairings are chosen
one-to-one by ``scipy.optimize.linear_sum_assignment`` on that score, and a chosen
pairing is confirmed when every live rival sharing one of its site tracks scores
at least ``margin`` more (a likelihood ratio of ``exp(margin / 2)``).
"""

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from .estimator import TrackFilter
from .geometry import intersections, velocity_from_rates

__all__ = ["Pairing", "PairingBook"]

_NO_PAIRING = 1e12


@dataclass
class Pairing:
    """A hypothesis: site track ``a`` (of site ``positions[0]``) is site track ``b``."""
    a: tuple              # (site name, track number)
    b: tuple
    positions: tuple      # (SitePosition, SitePosition)
    filter: TrackFilter
    scores: deque = field(default_factory=deque)

    def inside_beams(self, margin_rad):
        e, n = self.filter.x[:2]
        return all(bool(p.in_beam(e, n, margin_rad)) for p in self.positions)


def _initial_filter(positions, ma, mb, time_s, point, accel_sigma):
    """A filter at ``point`` with the velocity the range rates solve to, and the
    covariance the two lines of sight give the range and rate noise."""
    velocity = velocity_from_rates(positions, point, [ma.range_rate_mps, mb.range_rate_mps])
    if velocity is None:
        return None
    rows = np.array([np.array(p.offset(*point)) / p.range_m(*point) for p in positions])
    inverse = np.linalg.inv(rows)
    p = np.zeros((4, 4))
    p[:2, :2] = 4 * inverse @ np.diag([ma.range_sigma ** 2, mb.range_sigma ** 2]) @ inverse.T
    p[2:, 2:] = 4 * inverse @ np.diag([ma.rate_sigma ** 2, mb.rate_sigma ** 2]) @ inverse.T \
        + np.eye(2) * 25.0
    return TrackFilter(np.concatenate([point, velocity]), p, time_s, accel_sigma=accel_sigma)


class PairingBook:
    """The live pairings of one pair of sites."""

    def __init__(self, positions, *, window, nis_max, margin, accel_sigma, beam_margin_rad):
        self.positions = tuple(positions)
        self.window, self.nis_max, self.margin = window, nis_max, margin
        self.accel_sigma, self.beam_margin_rad = accel_sigma, beam_margin_rad
        self.pairings = {}        # (a key, b key, branch) -> Pairing
        self.rejected = 0

    def step(self, time_s, side_a, side_b, alive):
        """Advance every pairing of the measurements ``side_a`` and ``side_b`` (dicts
        ``key -> Measurement``) at ``time_s``; a pairing waits while one of its site
        tracks misses a step, and is dropped when ``alive(key)`` is false for one of
        them. Returns the confirmed pairings."""
        for key in [k for k in self.pairings if not (alive(k[0]) and alive(k[1]))]:
            del self.pairings[key]
        for ka, ma in side_a.items():
            for kb, mb in side_b.items():
                self._advance(time_s, ka, ma, kb, mb)
        return self._confirm()

    def _advance(self, time_s, ka, ma, kb, mb):
        existing = [(key, p) for key, p in self.pairings.items() if key[:2] == (ka, kb)]
        if not existing:
            for branch, point in enumerate(intersections(self.positions[0], ma.range_m,
                                                         self.positions[1], mb.range_m)):
                if not all(p.in_beam(point[0], point[1], self.beam_margin_rad)
                           for p in self.positions):
                    continue
                f = _initial_filter(self.positions, ma, mb, time_s, point, self.accel_sigma)
                if f is not None:
                    self.pairings[(ka, kb, branch)] = Pairing(ka, kb, self.positions, f,
                                                              deque(maxlen=self.window))
            return
        for key, pairing in existing:
            pairing.filter.predict(time_s)
            pairing.scores.append(pairing.filter.update([ma, mb]))
            mean = sum(pairing.scores) / len(pairing.scores)
            if mean > self.nis_max or not pairing.inside_beams(self.beam_margin_rad):
                del self.pairings[key]
                self.rejected += 1

    def _confirm(self):
        ripe = [p for p in self.pairings.values() if len(p.scores) == self.window]
        if not ripe:
            return []
        rows = sorted({p.a for p in ripe})
        cols = sorted({p.b for p in ripe})
        best = {}
        for p in ripe:
            key = (p.a, p.b)
            if key not in best or sum(p.scores) < sum(best[key].scores):
                best[key] = p
        cost = np.full((len(rows), len(cols)), _NO_PAIRING)
        for (a, b), p in best.items():
            cost[rows.index(a), cols.index(b)] = sum(p.scores)
        confirmed = []
        for i, j in zip(*linear_sum_assignment(cost)):
            if cost[i, j] >= _NO_PAIRING:
                continue
            chosen = best[(rows[i], cols[j])]
            rivals = [self.window * np.mean(p.scores) for p in self.pairings.values()
                      if p is not chosen
                      and (p.a == chosen.a or p.b == chosen.b) and len(p.scores) >= self.window // 2]
            if all(r - cost[i, j] >= self.margin for r in rivals):
                confirmed.append(chosen)
        for chosen in confirmed:
            for key in [k for k, p in self.pairings.items() if p.a == chosen.a or p.b == chosen.b]:
                del self.pairings[key]
        return confirmed

    def rename(self, old, new):
        """Site track ``new`` continues ``old``: ``old``'s pairings become ``new``'s,
        with their filters and scores, in place of ``new``'s own younger ones. Returns
        how many it took over."""
        self.forget({new})
        taken = [k for k in self.pairings if old in k[:2]]
        for key in taken:
            pairing = self.pairings.pop(key)
            pairing.a, pairing.b = (new if k == old else k for k in (pairing.a, pairing.b))
            self.pairings[(pairing.a, pairing.b, key[2])] = pairing
        return len(taken)

    def pairing_steps(self, key):
        """The most steps any live pairing of site track ``key`` has been scored."""
        return max((len(p.scores) for p in self.pairings.values() if key in (p.a, p.b)),
                   default=0)

    def forget(self, keys):
        """Drop the pairings of the site tracks ``keys`` (taken by a system track)."""
        for key in [k for k, p in self.pairings.items() if p.a in keys or p.b in keys]:
            del self.pairings[key]

    @staticmethod
    def nis_bound(dof, steps, sigmas=4.0):
        """A bound on the mean NIS of ``steps`` steps of ``dof`` degrees of freedom: the
        chi-square mean plus ``sigmas`` standard deviations of the mean."""
        return dof + sigmas * math.sqrt(2 * dof / steps)
