"""Where the sites stand in the centre's plane, and what each of them measures.

The centre works in the local east-north-up frame of the first site (WGS-84,
``pymap3d``): every site's position in it comes from its latitude, longitude and
altitude, so a site 150 km away sits about 1.8 km below the frame's plane (the
Earth's curvature). Targets move in the plane ``up = 0``. A site measures the
Euclidean range to the target in that frame and its rate; its bearing is only
"within the beam" (boresight ± beamwidth / 2, azimuth clockwise from north).
"""

import math
from dataclasses import dataclass

import numpy as np
import pymap3d

__all__ = ["SitePosition", "site_positions", "wrap_angle", "intersections", "velocity_from_rates",
           "enu_to_geodetic"]


def wrap_angle(radians):
    """``radians`` wrapped into ``[-pi, pi)``."""
    return (np.asarray(radians) + np.pi) % (2 * np.pi) - np.pi


@dataclass(frozen=True)
class SitePosition:
    """A site in the centre's frame: ``enu`` (m, 3), ``azimuth`` and ``half_beam`` (rad)."""
    site: object
    enu: np.ndarray
    azimuth: float
    half_beam: float

    @property
    def name(self):
        return self.site.name

    @property
    def boresight(self):
        """Unit vector (east, north) of the boresight."""
        return np.array([math.sin(self.azimuth), math.cos(self.azimuth)])

    def offset(self, east, north):
        """Horizontal offset (east, north) of a point from the site."""
        return east - self.enu[0], north - self.enu[1]

    def range_m(self, east, north):
        de, dn = self.offset(east, north)
        return np.sqrt(de ** 2 + dn ** 2 + self.enu[2] ** 2)

    def bearing(self, east, north):
        """Azimuth (rad, clockwise from north) of a point seen from the site."""
        de, dn = self.offset(east, north)
        return np.arctan2(de, dn)

    def off_boresight(self, east, north):
        """Angle (rad) of a point from the boresight, signed, in ``[-pi, pi)``."""
        return wrap_angle(self.bearing(east, north) - self.azimuth)

    def in_beam(self, east, north, margin=0.0):
        """Whether a point is within the beam widened by ``margin`` radians each side."""
        return np.abs(self.off_boresight(east, north)) <= self.half_beam + margin

    def boresight_point(self, range_m):
        """The single-site estimate: the point at ``range_m`` along the boresight."""
        ground = math.sqrt(max(range_m ** 2 - self.enu[2] ** 2, 0.0))
        return self.enu[:2] + ground * self.boresight


def _in_frame(origin, lat, lon, alt):
    return np.array(pymap3d.geodetic2enu(lat, lon, alt, origin.latitude_deg,
                                         origin.longitude_deg, origin.altitude_m))


def site_positions(sites):
    """:class:`SitePosition` of each site, in the frame of the first. A site's boresight,
    an azimuth from its own north, is turned into the frame's: the direction to the
    point 100 km along it (north differs by the meridians' convergence, about
    ``delta longitude * sin(latitude)``)."""
    origin = sites[0]
    out = []
    for site in sites:
        enu = _in_frame(origin, site.latitude_deg, site.longitude_deg, site.altitude_m)
        az = math.radians(site.azimuth_deg)
        ahead = pymap3d.enu2geodetic(1e5 * math.sin(az), 1e5 * math.cos(az), 0.0,
                                     site.latitude_deg, site.longitude_deg, site.altitude_m)
        de, dn = _in_frame(origin, *ahead)[:2] - enu[:2]
        out.append(SitePosition(site, enu, math.atan2(de, dn) % (2 * math.pi),
                                math.radians(site.beamwidth_deg) / 2))
    return out


def enu_to_geodetic(origin, east, north, up=0.0):
    """WGS-84 (latitude, longitude, altitude) of a point of the frame of ``origin`` (a Site)."""
    return pymap3d.enu2geodetic(east, north, up, origin.latitude_deg, origin.longitude_deg,
                                origin.altitude_m)


def intersections(a, range_a, b, range_b):
    """Points of the plane at ``range_a`` from site ``a`` and ``range_b`` from site ``b``:
    a list of 0, 1 or 2 arrays (east, north)."""
    ra2, rb2 = range_a ** 2 - a.enu[2] ** 2, range_b ** 2 - b.enu[2] ** 2
    if ra2 < 0 or rb2 < 0:
        return []
    delta = b.enu[:2] - a.enu[:2]
    d = float(np.hypot(*delta))
    if d == 0:
        return []
    along = (ra2 - rb2 + d * d) / (2 * d)
    h2 = ra2 - along * along
    if h2 < 0:
        return []
    unit = delta / d
    normal = np.array([-unit[1], unit[0]])
    foot = a.enu[:2] + along * unit
    h = math.sqrt(h2)
    return [foot + h * normal, foot - h * normal]


def velocity_from_rates(positions, point, rates):
    """Velocity (east, north) of a target at ``point`` of the plane whose range rates
    from the sites ``positions`` are ``rates`` (least squares; None if the lines of
    sight are parallel)."""
    rows = []
    for p in positions:
        de, dn = p.offset(point[0], point[1])
        rows.append(np.array([de, dn]) / p.range_m(point[0], point[1]))
    a = np.array(rows)
    if abs(np.linalg.det(a.T @ a)) < 1e-9:
        return None
    return np.linalg.lstsq(a, np.asarray(rates, dtype=np.float64), rcond=None)[0]
