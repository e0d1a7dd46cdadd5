"""A multi-site scenario as one single-site scenario per site.

Each site sees every planar target through :class:`~.geometry.SiteTarget`: its
range, radial velocity and acceleration at every pulse from the geometry, no
echo outside its sector. A target's ``snr_db`` holds at the first site; site k's
is scaled by the radar equation, ``(R1 / Rk)^4`` with both ranges at common time
0. Site k (from 0) draws its receiver noise from ``noise_seed + k``, so the
sites' noises are independent. The radar, Doppler, CFAR, tracker and clutter
sections are shared.
"""

from dataclasses import replace

import numpy as np

from .geometry import SiteTarget, line_of_sight, snr_scale_db
from .scenario import SNR_DB_RANGE, ScenarioError

__all__ = ["site_scenarios", "TRUTH_ENU_COLUMNS", "enu_truth_rows"]

TRUTH_ENU_COLUMNS = ("time_s", "target", "east_m", "north_m", "up_m", "east_mps", "north_mps",
                     "up_mps")


def site_scenarios(scenario, sites):
    """The single-site scenario of each of ``sites`` (:class:`~.geometry.SiteGeometry`,
    the first is the frame's origin) of the multi-site ``scenario``.

    Raises :class:`~.scenario.ScenarioError` when a target, inside a site's sector,
    lies beyond its unambiguous range, or its SNR there leaves the allowed range.
    """
    first = sites[0]
    out = []
    for k, site in enumerate(sites):
        targets = []
        for index, planar in enumerate(scenario.targets):
            trajectory = planar.trajectory
            snr = planar.snr_db + snr_scale_db(line_of_sight(trajectory, first, 0.0)[0],
                                               line_of_sight(trajectory, site, 0.0)[0])
            target = SiteTarget(trajectory, site, float(snr), planar.swerling)
            _check_site_target(target, index, scenario.radar)
            targets.append(target)
        radar = replace(scenario.radar, noise_seed=scenario.radar.noise_seed + k)
        out.append(replace(scenario, radar=radar, targets=tuple(targets), multisite=False))
    return tuple(out)


def _check_site_target(target, index, radar):
    where = f"target[{index}] seen from site {target.site.name!r}"
    lo, hi = SNR_DB_RANGE
    if not lo <= target.snr_db <= hi:
        raise ScenarioError(f"{where} has snr_db {target.snr_db:.1f}, outside {lo:g} to {hi:g}")
    times = np.arange(radar.lines) * radar.pri_s
    ranges = target.range_at(times)[target.visible_at(times)]
    if ranges.size and ranges.max() >= radar.unambiguous_range_m:
        raise ScenarioError(f"{where} reaches {ranges.max():.1f} m inside its sector, beyond the "
                            f"unambiguous range {radar.unambiguous_range_m:.1f} m (c * pri_s / 2)")
    if ranges.size and ranges.min() <= 0:
        raise ScenarioError(f"{where} reaches range {ranges.min():.1f} m; it must stay > 0")


def enu_truth_rows(scenario, first):
    """Every target's truth in the common frame at the end of each CPI of the ``first``
    site, in common time: tuples in the order of :data:`TRUTH_ENU_COLUMNS`."""
    r = scenario.radar
    for cpi in range(r.cpis):
        t = first.time_offset_s + (cpi + 1) * r.pulses_per_cpi * r.pri_s
        for index, target in enumerate(scenario.targets):
            position, velocity, _ = target.trajectory.state_at(t)
            yield (t, index, *(float(x) for x in position), *(float(x) for x in velocity))
