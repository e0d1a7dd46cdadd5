"""The system track's filter: an extended Kalman filter on ``[east, north, v_east, v_north]``.

Plain numpy: the measurement set changes from update to update (range and range
rate from each site that reported, plus a bearing pseudo-measurement when one site
alone did), which is a few lines here and no fit for a fixed-``dim_z`` filter class.

- Motion: constant velocity in the plane ``up = 0``, white acceleration of standard
  deviation ``accel_sigma`` (m/s**2) held over each step (the discrete white-noise
  acceleration model).
- A site's measurement: range ``|p - s|`` (3-D, the site below or above the plane)
  and range rate ``(p - s) . v / |p - s|``, noise ``range_sigma``, ``rate_sigma``.
- One site alone: its bearing is somewhere in the beam, a pseudo-measurement at the
  boresight with the standard deviation of a uniform spread over the beam,
  ``beamwidth / sqrt(12)`` (:func:`beam_sigma`), applied only while the filter knows
  the bearing less well than that: a fused track that loses a site keeps its
  position, dead-reckoned on the remaining site's range, until its cross-range
  uncertainty grows to the beam's; a track seen by one site from the start has a
  cross-range sigma of about ``range * beamwidth / sqrt(12)``.
"""

import math
from dataclasses import dataclass

import numpy as np

from .geometry import wrap_angle

__all__ = ["Measurement", "TrackFilter", "beam_sigma"]


def beam_sigma(position):
    """Standard deviation (rad) of a bearing spread uniformly over the beam of
    ``position`` (SitePosition): ``beamwidth / sqrt(12)``."""
    return 2 * position.half_beam / math.sqrt(12)


@dataclass(frozen=True)
class Measurement:
    """A site's range and range rate at the filter's time, with their noise (1 sigma)."""
    position: object      # SitePosition
    range_m: float
    range_rate_mps: float
    range_sigma: float
    rate_sigma: float


def _rows(x, m):
    """Predicted range, range rate, and their Jacobian rows, for Measurement ``m``."""
    de, dn = m.position.offset(x[0], x[1])
    rho = math.sqrt(de * de + dn * dn + m.position.enu[2] ** 2)
    u = np.array([de, dn]) / rho
    rate = float(u @ x[2:])
    h_range = np.array([u[0], u[1], 0.0, 0.0])
    d_rate = (x[2:] - rate * u) / rho
    h_rate = np.array([d_rate[0], d_rate[1], u[0], u[1]])
    return rho, rate, h_range, h_rate


class TrackFilter:
    """Extended Kalman filter of one target; ``x`` (4,) and ``P`` (4, 4) at ``time_s``."""

    def __init__(self, x, p, time_s, *, accel_sigma):
        self.x, self.P, self.time_s = np.asarray(x, float), np.asarray(p, float), float(time_s)
        self.accel_sigma = accel_sigma

    def copy(self):
        return TrackFilter(self.x.copy(), self.P.copy(), self.time_s, accel_sigma=self.accel_sigma)

    def predict(self, time_s):
        dt = time_s - self.time_s
        if dt == 0:
            return
        f = np.eye(4)
        f[0, 2] = f[1, 3] = dt
        g = np.array([[dt * dt / 2, 0], [0, dt * dt / 2], [dt, 0], [0, dt]])
        self.x = f @ self.x
        self.P = f @ self.P @ f.T + self.accel_sigma ** 2 * g @ g.T
        self.time_s = time_s

    def innovation(self, measurements, bearings=()):
        """Residual ``y``, Jacobian ``H`` and covariance ``S`` of ``measurements`` and of
        bearing pseudo-measurements at the boresight of the SitePositions ``bearings``."""
        y, h, r = [], [], []
        for m in measurements:
            rho, rate, h_range, h_rate = _rows(self.x, m)
            y += [m.range_m - rho, m.range_rate_mps - rate]
            h += [h_range, h_rate]
            r += [m.range_sigma ** 2, m.rate_sigma ** 2]
        for p in bearings:
            de, dn = p.offset(self.x[0], self.x[1])
            y.append(float(wrap_angle(p.azimuth - math.atan2(de, dn))))
            h.append(self._bearing_row(p))
            r.append(beam_sigma(p) ** 2)
        y, h = np.array(y), np.array(h)
        return y, h, h @ self.P @ h.T + np.diag(r)

    def _bearing_row(self, position):
        """Jacobian row of the bearing from ``position`` (SitePosition)."""
        de, dn = position.offset(self.x[0], self.x[1])
        ground2 = de * de + dn * dn
        return np.array([dn / ground2, -de / ground2, 0.0, 0.0])

    def bearing_sigma(self, position):
        """Standard deviation (rad) of the bearing from ``position`` that ``P`` implies."""
        h = self._bearing_row(position)
        return math.sqrt(float(h @ self.P @ h))

    def nis(self, measurements, bearings=()):
        """Normalised innovation squared of the measurements (before updating)."""
        y, _, s = self.innovation(measurements, bearings)
        return float(y @ np.linalg.solve(s, y))

    def update(self, measurements, bearings=()):
        """Update with the measurements; returns their normalised innovation squared."""
        if not (measurements or bearings):
            return 0.0
        y, h, s = self.innovation(measurements, bearings)
        k = np.linalg.solve(s, h @ self.P).T
        self.x = self.x + k @ y
        i_kh = np.eye(4) - k @ h
        self.P = i_kh @ self.P @ i_kh.T + k @ (s - h @ self.P @ h.T) @ k.T   # Joseph form
        self.P = (self.P + self.P.T) / 2
        return float(y @ np.linalg.solve(s, y))

    @property
    def sigma_east_north(self):
        return math.sqrt(self.P[0, 0]), math.sqrt(self.P[1, 1])
