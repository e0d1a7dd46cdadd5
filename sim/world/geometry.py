"""Several sites, one world: where the sites stand and what each sees of a target.

The common frame is the first site's local east-north-up (ENU) frame on the WGS84
ellipsoid, in metres; each site's position in it comes from its latitude,
longitude and altitude (``pymap3d``). A target moves in that frame with constant
acceleration. A site sees it at the Euclidean distance from the site, with the
radial velocity and acceleration that follow exactly from the motion (not a
constant radial acceleration), and only while it lies inside the site's sector:
boresight azimuth ± half the beamwidth, azimuth measured clockwise from north in
the site's own ENU frame. Times are common time: site k's local time ``t`` (from
its first pulse) is common time ``t + time_offset_s``.
"""

import math
from dataclasses import dataclass

import numpy as np
import pymap3d

__all__ = ["Trajectory", "SiteGeometry", "site_geometry", "enu_position", "enu_rotation",
           "line_of_sight", "azimuth_deg", "in_beam", "SiteTarget", "snr_scale_db"]


def enu_position(latitude_deg, longitude_deg, altitude_m, origin):
    """Position (east, north, up) in metres of a WGS84 point in the ENU frame of
    ``origin`` = (latitude_deg, longitude_deg, altitude_m)."""
    return tuple(float(x) for x in pymap3d.geodetic2enu(latitude_deg, longitude_deg, altitude_m,
                                                        *origin))


def enu_rotation(latitude_deg, longitude_deg, origin):
    """3 x 3 matrix taking a vector from ``origin``'s ENU frame into the ENU frame of
    the point at ``latitude_deg``, ``longitude_deg`` (rows: that frame's axes)."""
    columns = []
    for axis in np.eye(3):
        ecef = pymap3d.enu2uvw(*axis, origin[0], origin[1])
        columns.append(pymap3d.uvw2enu(*ecef, latitude_deg, longitude_deg))
    return tuple(tuple(float(x) for x in row) for row in np.array(columns).T)


@dataclass(frozen=True)
class Trajectory:
    """Constant-acceleration motion in the common frame: (east, north, up) tuples, at
    common time 0, in m, m/s and m/s²."""
    position_m: tuple
    velocity_mps: tuple
    accel_mps2: tuple = (0.0, 0.0, 0.0)

    def state_at(self, t):
        """Position, velocity, acceleration at common time ``t`` (s, scalar or array):
        arrays of shape ``t.shape + (3,)``."""
        t = np.asarray(t, dtype=np.float64)[..., np.newaxis]
        p0, v0, a = (np.asarray(x, dtype=np.float64) for x in
                     (self.position_m, self.velocity_mps, self.accel_mps2))
        return p0 + v0 * t + 0.5 * a * t * t, v0 + a * t, np.broadcast_to(a, t.shape[:-1] + (3,))


@dataclass(frozen=True)
class SiteGeometry:
    """One site in the common frame: its position (m), the rotation of the common frame
    into its own ENU frame, its sector and the time of its first pulse."""
    name: str
    position_m: tuple
    rotation: tuple
    azimuth_deg: float
    beamwidth_deg: float
    time_offset_s: float = 0.0


def site_geometry(name, latitude_deg, longitude_deg, altitude_m, *, azimuth_deg, beamwidth_deg,
                  time_offset_s=0.0, origin):
    """The :class:`SiteGeometry` of a site given in WGS84, in the ENU frame of
    ``origin`` = (latitude_deg, longitude_deg, altitude_m) of the first site."""
    return SiteGeometry(name, enu_position(latitude_deg, longitude_deg, altitude_m, origin),
                        enu_rotation(latitude_deg, longitude_deg, origin), azimuth_deg,
                        beamwidth_deg, time_offset_s)


def line_of_sight(trajectory, site, t):
    """Range (m), radial velocity (m/s, negative closing) and radial acceleration
    (m/s²) of ``trajectory`` seen from ``site`` at common time ``t``:
    ``r = |d|``, ``r' = d·v / r``, ``r'' = (v·v + d·a − r'²) / r`` with ``d`` the
    target's position relative to the site."""
    p, v, a = trajectory.state_at(t)
    d = p - np.asarray(site.position_m)
    r = np.linalg.norm(d, axis=-1)
    rate = np.sum(d * v, axis=-1) / r
    accel = (np.sum(v * v, axis=-1) + np.sum(d * a, axis=-1) - rate ** 2) / r
    return r, rate, accel


def azimuth_deg(trajectory, site, t):
    """Azimuth of the target from ``site`` at common time ``t``, degrees clockwise from
    the site's north, in [0, 360)."""
    p, _, _ = trajectory.state_at(t)
    east, north, _ = np.moveaxis((p - np.asarray(site.position_m)) @ np.asarray(site.rotation).T,
                                 -1, 0)
    return np.degrees(np.arctan2(east, north)) % 360.0


def in_beam(trajectory, site, t):
    """True where the target lies within the site's boresight ± half its beamwidth."""
    off = (azimuth_deg(trajectory, site, t) - site.azimuth_deg + 180.0) % 360.0 - 180.0
    return np.abs(off) <= site.beamwidth_deg / 2


@dataclass(frozen=True)
class SiteTarget:
    """A target as one site sees it, with the interface of a one-dimensional scenario
    target (``range_at``, ``velocity_at``, ``visible_at``, ``snr_db``, ``swerling``);
    ``t`` is the site's local time, from its first pulse."""
    trajectory: Trajectory
    site: SiteGeometry
    snr_db: float
    swerling: int = 0

    def _view(self, t):
        return line_of_sight(self.trajectory, self.site, np.asarray(t) + self.site.time_offset_s)

    def range_at(self, t):
        return self._view(t)[0]

    def velocity_at(self, t):
        return self._view(t)[1]

    def accel_at(self, t):
        return self._view(t)[2]

    def visible_at(self, t):
        return in_beam(self.trajectory, self.site, np.asarray(t) + self.site.time_offset_s)


def snr_scale_db(range_first_m, range_site_m):
    """SNR of a site relative to the first: ``40 log10(R1 / Rk)`` dB (radar equation)."""
    return 40 * math.log10(range_first_m / range_site_m)
