"""Synthetic site feeds of known truth, for the centre's tests and bench.

Targets move in the plane ``up = 0`` of the first site's frame with constant
acceleration; each site reports, CPI by CPI, the CAT048 track records
(:func:`amaradar.host.asterix.asterix_records`) its tracker would send for the
targets inside its beam: range and range rate from the geometry plus Gaussian
noise, at the middle pulse of the CPI, the site's clock starting at
``start_utc`` (so a later ``start_utc`` is a site whose CPIs are offset).
"""

import math
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace

import numpy as np

from ...hdl.track.tables import STATE_FRAC
from ...spec.physics import SPEED_OF_LIGHT
from ...spec.records import POSITION_FRAC
from ..asterix import asterix_records
from ..site import parse_site

__all__ = ["PlanarTargets", "site_feed", "crossing_sites"]

_SAMPLE_RATE_HZ = 10e6      # 15 m range cells
_PULSE_SAMPLES = 100


@dataclass(frozen=True)
class PlanarTargets:
    """Targets in the plane: ``position_m``, ``velocity_mps``, ``accel_mps2`` (k, 2) at
    ``t = 0`` (s of the first site's clock)."""
    position_m: np.ndarray
    velocity_mps: np.ndarray
    accel_mps2: np.ndarray

    def at(self, time_s):
        """Positions and velocities (k, 2) at ``time_s``."""
        p0, v0, a = (np.asarray(x, dtype=np.float64) for x in
                     (self.position_m, self.velocity_mps, self.accel_mps2))
        return p0 + v0 * time_s + a * time_s ** 2 / 2, v0 + a * time_s

    def truth_rows(self, times_s):
        """Rows of ``truth.csv``: time_s, target, east/north/up m, east/north/up m/s."""
        rows = []
        for t in times_s:
            p, v = self.at(t)
            for i in range(len(p)):
                rows.append({"time_s": t, "target": i, "east_m": p[i, 0], "north_m": p[i, 1],
                             "up_m": 0.0, "east_mps": v[i, 0], "north_mps": v[i, 1],
                             "up_mps": 0.0})
        return rows


def _radar(pri_s, pulses, cpis):
    return SimpleNamespace(radar=SimpleNamespace(
        sample_rate_hz=_SAMPLE_RATE_HZ, pri_s=pri_s, pulses_per_cpi=pulses,
        pulse_samples=_PULSE_SAMPLES, pulse_width_s=_PULSE_SAMPLES / _SAMPLE_RATE_HZ,
        range_bin_m=SPEED_OF_LIGHT / (2 * _SAMPLE_RATE_HZ),
        unambiguous_range_m=SPEED_OF_LIGHT * pri_s / 2, cpis=cpis, waveform=None))


def site_feed(position, targets, *, cpis, rng, offset_s=0.0, pri_s=4e-3, pulses=25,
              range_sigma_m=15.0, rate_sigma_mps=1.5, silent_cpis=(), first_track=1,
              breaks=(), simulated=True):
    """The datagrams a site at ``position`` (SitePosition) sends about ``targets``.

    ``offset_s``: the site's first pulse after the first site's (its ``start_utc``
    must say the same); ``silent_cpis``: CPIs whose datagrams are not sent (the
    stream stops); the track number of target ``i`` is ``first_track + i``. ``breaks``:
    ``(target, cpi, gap)``, the site's tracker losing the target: no report of it for
    ``gap`` CPIs from ``cpi``, then a new track number (the next after every target's);
    ``simulated``: the records' SIM bit.
    """
    numbers = [first_track + i for i in range(len(targets.position_m))]
    renumber = {}
    for k, (target, cpi, gap) in enumerate(sorted(breaks, key=lambda b: b[1])):
        renumber.setdefault(target, []).append((cpi, gap, first_track + len(numbers) + k))
    scenario = _radar(pri_s, pulses, cpis)
    cell_m = scenario.radar.range_bin_m
    mps_per_rate = cell_m / (pulses * pri_s) / (1 << STATE_FRAC)
    plots, tracks = {k: [] for k in ("cpi", "range_pos", "power", "threshold")}, \
        {k: [] for k in ("cpi", "track_id", "status", "range_pos", "range_rate", "plot")}
    silent = set(silent_cpis)
    sent = [c for c in range(cpis) if c not in silent]
    for cpi in sent:
        p, v = targets.at(offset_s + (cpi * pulses + pulses // 2) * pri_s)
        index = 0
        for i in range(len(p)):
            number = numbers[i]
            for start, gap, later in renumber.get(i, ()):
                number = later if cpi >= start + gap else number
            if not position.in_beam(p[i, 0], p[i, 1]) or any(
                    start <= cpi < start + gap for start, gap, _ in renumber.get(i, ())):
                continue
            rho = float(position.range_m(p[i, 0], p[i, 1]))
            de, dn = position.offset(p[i, 0], p[i, 1])
            rate = (de * v[i, 0] + dn * v[i, 1]) / rho
            rho += rng.normal(0.0, range_sigma_m)
            rate += rng.normal(0.0, rate_sigma_mps)
            pos = round((rho / cell_m + _PULSE_SAMPLES - 1) * (1 << POSITION_FRAC))
            index += 1
            for name, value in (("cpi", cpi), ("range_pos", pos), ("power", 1000),
                                ("threshold", 100)):
                plots[name].append(value)
            for name, value in (("cpi", cpi), ("track_id", number), ("status", 1),
                                ("range_pos", pos), ("range_rate", round(rate / mps_per_rate)),
                                ("plot", index)):
                tracks[name].append(value)
    return asterix_records(scenario, position.site, plots, "plots", tracks=tracks,
                           simulated=simulated, cpis=sent)


def crossing_sites(baseline_m, *, beamwidth_deg=20.0, offset_s=0.0, latitude_deg=50.0,
                   longitude_deg=10.0):
    """Two sites ``baseline_m`` apart west to east, "north" (SAC/SIC 1/1) looking
    north-east and "south" (1/2) looking north-west: the beams cross at right angles
    about ``baseline_m / 2`` east and north of the first. The second site's first
    pulse is ``offset_s`` after the first's."""
    east_deg = baseline_m / (111320 * math.cos(math.radians(latitude_deg)))
    first = parse_site({"name": "north", "sac": 1, "sic": 1, "latitude_deg": latitude_deg,
                        "longitude_deg": longitude_deg, "azimuth_deg": 45.0,
                        "beamwidth_deg": beamwidth_deg})
    second = parse_site({"name": "south", "sac": 1, "sic": 2, "latitude_deg": latitude_deg,
                         "longitude_deg": longitude_deg + east_deg, "azimuth_deg": 315.0,
                         "beamwidth_deg": beamwidth_deg,
                         "start_utc": first.start_utc + timedelta(seconds=offset_s)})
    return [first, second]
