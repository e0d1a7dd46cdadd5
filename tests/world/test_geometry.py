"""The multi-site geometry: WGS84 to the first site's ENU frame, and range, radial
velocity and radial acceleration of a moving target from each site."""

import math

import numpy as np
import pytest

from amaradar.sim.world.geometry import (SiteGeometry, SiteTarget, Trajectory, azimuth_deg,
                                         enu_position, enu_rotation, in_beam, line_of_sight,
                                         site_geometry, snr_scale_db)

IDENTITY = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
ORIGIN = SiteGeometry("a", (0.0, 0.0, 0.0), IDENTITY, azimuth_deg=45.0, beamwidth_deg=20.0)


def test_geodetic_to_enu_known_values():
    # On the equator a degree of longitude is a * pi / 180 of arc: 111,319.49 m; the point
    # lies below the tangent plane by a (1 - cos 1 deg).
    a = 6378137.0
    e, n, u = enu_position(0.0, 1.0, 0.0, (0.0, 0.0, 0.0))
    assert e == pytest.approx(a * math.sin(math.radians(1.0)), abs=1e-6)
    assert n == pytest.approx(0.0, abs=1e-6)
    assert u == pytest.approx(-a * (1 - math.cos(math.radians(1.0))), abs=1e-6)
    # straight up: altitude is the up axis
    assert enu_position(54.0, 18.0, 250.0, (54.0, 18.0, 100.0)) == pytest.approx((0, 0, 150.0),
                                                                                abs=1e-6)
    # north along a meridian: no east component
    e, n, u = enu_position(1.0, 0.0, 0.0, (0.0, 0.0, 0.0))
    assert abs(e) < 1e-6 and 110_000 < n < 111_000 and u < 0


def test_rotation_into_a_site_frame():
    assert np.allclose(enu_rotation(10.0, 20.0, (10.0, 20.0, 0.0)), np.eye(3), atol=1e-12)
    # one degree of longitude further east on the equator: the site's up tilts by 1 degree
    # towards the origin's east, its north stays the origin's north
    rot = np.array(enu_rotation(0.0, 1.0, (0.0, 0.0, 0.0)))
    c, s = math.cos(math.radians(1)), math.sin(math.radians(1))
    assert np.allclose(rot, [[c, 0, -s], [0, 1, 0], [s, 0, c]], atol=1e-12)
    assert np.allclose(rot @ rot.T, np.eye(3), atol=1e-12)


def test_straight_line_range_rate_and_acceleration():
    # starts 30 km east, 40 km north (50 km), flies west at 300 m/s
    traj = Trajectory((30e3, 40e3, 0.0), (-300.0, 0.0, 0.0))
    r, rate, accel = line_of_sight(traj, ORIGIN, 0.0)
    assert r == pytest.approx(50e3)
    assert rate == pytest.approx(-300 * 30 / 50)                 # v . d / r
    assert accel == pytest.approx((300 ** 2 - rate ** 2) / 50e3)  # the tangential part, v_t^2 / r
    # against finite differences of the range: not a constant radial acceleration
    t = np.linspace(0, 200, 2001)
    r, rate, accel = line_of_sight(traj, ORIGIN, t)
    dt = t[1] - t[0]
    assert np.allclose(np.gradient(r, dt)[1:-1], rate[1:-1], atol=1e-3)
    assert np.allclose(np.diff(r, 2) / dt ** 2, accel[1:-1], rtol=1e-4, atol=1e-6)
    assert accel.max() > 1.9 * accel.min() > 0      # 300² / 40 km at the closest point
    assert r[-1] == pytest.approx(math.hypot(30e3 - 60e3, 40e3))


def test_accelerating_target_and_a_second_site():
    traj = Trajectory((60e3, 85e3, 1e3), (-900.0, -2400.0, 50.0), (0.0, 30.0, -9.81))
    site = SiteGeometry("b", (150e3, 0.0, -1.7e3), IDENTITY, 0.0, 360.0, time_offset_s=0.5)
    t = np.linspace(0, 10, 10001)
    r, rate, accel = line_of_sight(traj, site, t)
    p = np.stack([60e3 - 900 * t, 85e3 - 2400 * t + 15 * t ** 2,
                  1e3 + 50 * t - 9.81 / 2 * t ** 2], axis=-1) - np.array(site.position_m)
    assert np.allclose(r, np.linalg.norm(p, axis=-1), rtol=1e-12)
    dt = t[1] - t[0]
    assert np.allclose(np.gradient(r, dt)[1:-1], rate[1:-1], atol=1e-3)
    assert np.allclose(np.diff(r, 2) / dt ** 2, accel[1:-1], atol=1e-3)
    target = SiteTarget(traj, site, snr_db=3.0)
    assert target.range_at(1.0) == pytest.approx(line_of_sight(traj, site, 1.5)[0])
    assert target.velocity_at(1.0) == pytest.approx(rate[1500])
    assert target.accel_at(1.0) == pytest.approx(accel[1500])


def test_a_target_leaving_the_beam():
    # boresight 45 deg, 20 deg wide: the sector is 35 to 55 deg; a target at 45 deg
    # flying east crosses 55 deg when east / north = tan 55 deg
    traj = Trajectory((50e3, 50e3, 0.0), (1000.0, 0.0, 0.0))
    t_edge = (50e3 * math.tan(math.radians(55)) - 50e3) / 1000
    assert azimuth_deg(traj, ORIGIN, 0.0) == pytest.approx(45.0)
    assert in_beam(traj, ORIGIN, t_edge - 0.01) and not in_beam(traj, ORIGIN, t_edge + 0.01)
    visible = SiteTarget(traj, ORIGIN, 0.0).visible_at(np.array([0.0, t_edge + 1]))
    assert visible.tolist() == [True, False]
    # a sector across north wraps: boresight 355, target at azimuth 3
    north = SiteGeometry("n", (0.0, 0.0, 0.0), IDENTITY, 355.0, 20.0)
    assert in_beam(Trajectory((math.tan(math.radians(3)) * 1e4, 1e4, 0.0), (0, 0, 0)), north, 0)


def test_built_from_wgs84_and_the_radar_equation():
    site = site_geometry("b", 0.0, 1.0, 0.0, azimuth_deg=270.0, beamwidth_deg=10.0,
                         time_offset_s=0.25, origin=(0.0, 0.0, 0.0))
    assert site.position_m[0] == pytest.approx(6378137.0 * math.sin(math.radians(1)), abs=1e-6)
    assert site.time_offset_s == 0.25
    # a target at the origin's position is due west of the second site, in its beam
    traj = Trajectory((0.0, 0.0, 0.0), (0.0, 0.0, 0.0))
    assert azimuth_deg(traj, site, 0.0) == pytest.approx(270.0)
    assert snr_scale_db(100e3, 200e3) == pytest.approx(-40 * math.log10(2))


def test_rate_and_acceleration_are_the_derivatives_of_the_range_anywhere():
    """Random sites and motions (ranges 10 to 300 km, up to 3 km/s and 50 m/s²): the
    radial velocity and acceleration equal central differences of the range."""
    from hypothesis import given, settings
    from hypothesis import strategies as st
    coordinate = st.floats(-2e5, 2e5)

    @settings(max_examples=200, deadline=None)
    @given(st.tuples(coordinate, coordinate, st.floats(0, 3e4)),
           st.tuples(*[st.floats(-3e3, 3e3)] * 3), st.tuples(*[st.floats(-50, 50)] * 3),
           st.tuples(coordinate, coordinate, st.floats(-2e3, 2e3)), st.floats(0, 5))
    def check(position, velocity, accel, site_position, t):
        site = SiteGeometry("s", site_position, IDENTITY, 0.0, 360.0)
        traj = Trajectory(position, velocity, accel)
        if np.linalg.norm(traj.state_at(t)[0] - np.asarray(site_position)) < 1e4:
            return
        h = 1e-3
        before, now, after = (line_of_sight(traj, site, t + d) for d in (-h, 0.0, h))
        assert now[1] == pytest.approx((after[0] - before[0]) / (2 * h), abs=1e-3)
        assert now[2] == pytest.approx((after[1] - before[1]) / (2 * h), abs=1e-3)
    check()
