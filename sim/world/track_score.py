"""Score a run's track reports against the scenario's truth.

Tracks and truth are compared in range at each CPI's middle pulse (the time of
the CPI's plots, :func:`~.plot_metrics.plot_truth`), in range cells with the
matched filter's delay, as the track reports give them. The estimates of a CPI
are its confirmed and coasting tracks (tentative ones are not yet reported as
tracks); the truth is every target of the scenario that the radar sees then (all,
but outside a site's sector). OSPA and GOSPA use the cut-off ``OSPA_C_CELLS``
range cells and order ``OSPA_P``. A track is *on* a target in a CPI when the
optimal assignment of that CPI pairs them closer than the cut-off; from that:

- ``cpis_to_confirm``: the first CPI (from 0) with a track on the target, plus 1;
- ``breaks``: how often the track on a target changes its id or disappears after
  it first had one;
- ``false_tracks``: confirmed track ids never on any target;
- ``rate_rms_mps``: RMS of track range rate minus the target's radial velocity,
  over the CPIs it is on the target with an unfolded rate.
"""

from dataclasses import dataclass

import numpy as np
from ...hdl.track.tables import STATE_FRAC, STATUS_TENTATIVE
from ...spec.records import CPI_WIDTH, POSITION_FRAC
from .plot_metrics import plot_truth
from .track_metrics import assigned_pairs, gospa, ospa

__all__ = ["OSPA_C_CELLS", "OSPA_P", "TrackScore", "track_score"]

OSPA_C_CELLS = 10.0
OSPA_P = 1


@dataclass
class TrackScore:
    ospa_m: list               # per CPI
    gospa_m: list
    gospa_missed: list
    gospa_false: list
    targets: list              # per target: dict of cpis_to_confirm, breaks, rate_rms_mps
    false_tracks: int
    confirmed_tracks: int
    c_m: float
    p: int

    def as_dict(self):
        def mean(x):
            return float(np.mean(x)) if len(x) else None
        return {"c_m": self.c_m, "c_cells": OSPA_C_CELLS, "p": self.p,
                "mean_ospa_m": mean(self.ospa_m), "mean_gospa_m": mean(self.gospa_m),
                "ospa_m": self.ospa_m, "gospa_m": self.gospa_m,
                "gospa_missed": self.gospa_missed, "gospa_false": self.gospa_false,
                "targets": self.targets, "false_tracks": self.false_tracks,
                "confirmed_tracks": self.confirmed_tracks}


def track_score(scenario, tracks):
    """Score ``tracks`` (dict of arrays with the fields of the TRACK record) of a
    range-Doppler run of ``scenario``."""
    r = scenario.radar
    truth = plot_truth(scenario)
    c = OSPA_C_CELLS
    cell_m = r.range_bin_m
    cpi_s = r.pri_s * r.pulses_per_cpi
    cpi = np.asarray(tracks["cpi"], dtype=np.int64)
    shown = np.asarray(tracks["status"]) != STATUS_TENTATIVE
    ranges = np.asarray(tracks["range_pos"], dtype=np.float64) / (1 << POSITION_FRAC)
    rates = np.asarray(tracks["range_rate"], dtype=np.float64) / (1 << STATE_FRAC) * cell_m / cpi_s
    ids = np.asarray(tracks["track_id"])
    targets = len(scenario.targets)
    on = np.full((targets, r.cpis), -1, dtype=np.int64)       # track id on each target
    rate_error = [[] for _ in range(targets)]
    used = set()
    ospa_m, gospa_m, missed, false = [], [], [], []
    for k in range(r.cpis):
        rows = np.flatnonzero(shown & (cpi == k % (1 << CPI_WIDTH)))
        seen = np.flatnonzero(truth["visible"][:, k])
        x, y = truth["range_cell"][seen, k], ranges[rows]
        ospa_m.append(ospa(x, y, c=c, p=OSPA_P) * cell_m)
        g = gospa(x, y, c=c, p=OSPA_P)
        gospa_m.append(g.distance * cell_m)
        missed.append(g.missed)
        false.append(g.false)
        for i, j in assigned_pairs(x, y, c=c):
            i, row = seen[i], rows[j]
            on[i, k] = ids[row]
            used.add(int(ids[row]))
            if tracks["unfolded"][row]:
                rate_error[i].append(rates[row] - truth["velocity_mps"][i, k])
    per_target = []
    for i in range(targets):
        tracked = np.flatnonzero(on[i] >= 0)
        first = int(tracked[0]) if tracked.size else None
        after = on[i, first:] if first is not None else on[i, :0]
        breaks = int(np.count_nonzero(after[1:] != after[:-1]))
        errors = np.asarray(rate_error[i])
        per_target.append({"target_id": i, "cpis_to_confirm": None if first is None else first + 1,
                           "cpis_on_target": int(tracked.size), "breaks": breaks,
                           "rate_rms_mps": float(np.sqrt(np.mean(errors ** 2))) if errors.size
                           else None})
    confirmed = {int(t) for t in ids[shown]}
    return TrackScore(ospa_m=ospa_m, gospa_m=gospa_m, gospa_missed=missed, gospa_false=false,
                      targets=per_target, false_tracks=len(confirmed - used),
                      confirmed_tracks=len(confirmed), c_m=c * cell_m, p=OSPA_P)
