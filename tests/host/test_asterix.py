"""ASTERIX out, decoded by an independent decoder (pyobelix: hand-written CAT034/CAT048
tables, no code shared with the encoder libasterix) and compared field by field with
the reports that went in."""

import math

import numpy as np
import pytest
import pyobelix

from amaradar.host.asterix import MAX_DATAGRAM, asterix_records, write_ast
from amaradar.host.site import parse_site
from amaradar.sim.world.scenario import parse_scenario
from amaradar.spec.physics import SPEED_OF_LIGHT

NM = 1852.0
RHO_LSB = 1 / 256            # NM
TOD_LSB = 1 / 128            # s
THETA_LSB = 360 / 65536      # degree

SCENARIO = parse_scenario({
    "radar": {"sample_rate_hz": 10e6, "bandwidth_hz": 5e6, "pulse_width_s": 10e-6,
              "pri_s": 1e-3, "carrier_hz": 435e6, "pulses_per_cpi": 16, "cpis": 3,
              "adc_bits": 12, "noise_seed": 1, "waveform": "lfm"},
    "cfar": {"reference_cells": 16, "guard_cells": 3, "pfa": 1e-6},
})
R = SCENARIO.radar
N = R.pulse_samples
# Near midnight: CPI 0 is on one day, CPIs 1 and 2 on the next.
SITE = parse_site({"sac": 25, "sic": 200, "latitude_deg": 52.1, "longitude_deg": -4.3,
                   "altitude_m": 30, "azimuth_deg": 123.4, "beamwidth_deg": 2.5,
                   "start_utc": "2026-06-30T23:59:59.99Z"})


def range_m(cell):
    return SPEED_OF_LIGHT / 2 * (cell - (N - 1)) / R.sample_rate_hz


def tod(t):
    return (SITE.start_time_of_day_s + t) % 86400


def close_tod(decoded, expected):
    return abs((decoded - expected + 43200) % 86400 - 43200) <= TOD_LSB


def close_angle(decoded, expected, lsb):
    return abs((decoded - expected + 180) % 360 - 180) <= lsb


def decode(datagrams):
    return list(pyobelix.iter_records(b"".join(datagrams), strict=True))


def random_detections(count, seed=3):
    rng = np.random.default_rng(seed)
    det = {"cpi": rng.integers(0, R.cpis, count), "pulse": rng.integers(0, 16, count),
           "range_bin": rng.integers(N - 1, R.line_samples, count)}
    det["threshold"] = rng.integers(1, 1 << 40, count)
    det["power"] = (det["threshold"] * 10 ** rng.uniform(0, 6, count)).astype(np.int64) + 1
    return det


def check_service(records, cpi, simulated):
    """The CAT034 records that open CPI ``cpi``'s datagram."""
    if cpi == 0:
        config, records = records[0], records[1:]
        assert config["cat"] == 34 and config["message_type"] == 1
        assert (config["sac"], config["sic"]) == (25, 200)
        assert close_tod(config["time_of_day"], tod(0))
        assert config["sys_cfg_com_hex"] == ("80" if simulated else "00")    # NOGO
        assert abs(config["rho_start"] - SPEED_OF_LIGHT * R.pulse_width_s / 2 / NM) <= RHO_LSB
        assert abs(config["rho_end"] - R.unambiguous_range_m / NM) <= RHO_LSB
        assert close_angle(config["theta_start"], 123.4 - 1.25, THETA_LSB)
        assert close_angle(config["theta_end"], 123.4 + 1.25, THETA_LSB)
        assert config["height_m"] == 30
        assert abs(config["latitude"] - 52.1) <= 180 / 2 ** 23
        assert abs(config["longitude"] + 4.3) <= 180 / 2 ** 23
    sector = records[0]
    assert sector["cat"] == 34 and sector["message_type"] == 2
    assert (sector["sac"], sector["sic"]) == (25, 200)
    assert close_angle(sector["sector_number_deg"], 123.4, 360 / 512)
    assert close_tod(sector["time_of_day"], tod(cpi * 16 * R.pri_s))
    return records[1:]


def check_target(rec, t, rng_m, simulated, power=None, threshold=None, typ=1):
    assert rec["cat"] == 48
    assert (rec["sac"], rec["sic"]) == (25, 200)
    assert close_tod(rec["time_of_day"], tod(t))
    assert rec["typ"] == typ and rec["sim"] is simulated
    assert not (rec["rdp"] or rec["spi"] or rec["rab"])
    assert abs(rec["rho"] - rng_m / NM) <= RHO_LSB
    assert close_angle(rec["theta"], 123.4, THETA_LSB)
    if power is None:
        assert "primary_amplitude_dbm" not in rec
    else:
        margin = 10 * math.log10(power / threshold)
        assert abs(rec["primary_amplitude_dbm"] - min(127.0, margin)) <= 0.5


@pytest.mark.parametrize("simulated", [False, True])
def test_detections_field_by_field(simulated):
    det = random_detections(60)
    det["range_bin"][7] = N - 5                       # before the pulse's end: negative range
    datagrams = asterix_records(SCENARIO, SITE, det, "detections", simulated=simulated)
    assert len(datagrams) == R.cpis and datagrams.cpis == [0, 1, 2]
    assert datagrams.skipped == 1
    assert datagrams.timestamps == [SITE.start_posix_s + (c + 1) * 16 * R.pri_s for c in range(3)]
    for cpi, datagram in enumerate(datagrams):
        records = check_service(decode([datagram]), cpi, simulated)
        rows = [i for i in range(60) if det["cpi"][i] == cpi and i != 7]
        assert len(records) == len(rows)
        for rec, i in zip(records, rows):
            check_target(rec, (cpi * 16 + det["pulse"][i]) * R.pri_s, range_m(det["range_bin"][i]),
                         simulated, det["power"][i], det["threshold"][i])


def test_structured_array_input_gives_the_same_bytes():
    det = random_detections(20)
    array = np.zeros(20, dtype=[(k, "int64") for k in det])
    for k in det:
        array[k] = det[k]
    assert list(asterix_records(SCENARIO, SITE, array, "detections")) == \
        list(asterix_records(SCENARIO, SITE, det, "detections"))


CELLS_PER_CPI = -3.2          # a closing track: range rate in cells per CPI
PLOTS = {"cpi": np.array([0, 0, 1]),
         "range_pos": np.array([3000 * 256 + 77, 7000 * 256, 2997 * 256 + 5]),
         "doppler_pos": np.array([5 * 256, 9 * 256, 5 * 256]),
         "power": np.array([10 ** 9, 5 * 10 ** 7, 10 ** 9]),
         "threshold": np.array([10 ** 7, 10 ** 7, 10 ** 7])}
TRACKS = {"cpi": np.array([0, 1, 1, 2]),
          "track_id": np.array([5, 5, 4100, 5]),
          "status": np.array([0, 1, 2, 2]),          # tentative, confirmed, coasting, coasting
          "range_pos": np.array([7000 * 256, 2997 * 256, 5000 * 256, 2994 * 256]),
          "range_rate": np.array([0, round(CELLS_PER_CPI * 65536), 40000, round(CELLS_PER_CPI * 65536)]),
          "unfolded": np.array([0, 1, 0, 1]),
          "plot": np.array([2, 1, 0, 0])}


def track_velocity(rate):
    return rate / 65536 * R.range_bin_m / (16 * R.pri_s)


def check_track(rec, track_id, confirmed, rate, rng_m):
    assert rec["track_number"] == track_id % 4096
    assert rec["cnf_confirmed"] is confirmed
    assert rec["rad"] == 1 and rec["cdm"] == 3 and not (rec["dou"] or rec["mah"])
    v = track_velocity(rate)
    assert abs(rec["groundspeed_nm_per_s"] - abs(v) / NM) <= 2 ** -14
    assert close_angle(rec["heading"], 123.4 + (180 if v < 0 else 0), THETA_LSB)
    az = math.radians(123.4)
    assert abs(rec["x"] - rng_m * math.sin(az) / NM) <= 1 / 128
    assert abs(rec["y"] - rng_m * math.cos(az) / NM) <= 1 / 128


def coupling_cells(radar, cells_per_cpi):
    """What an up-chirp's range-Doppler coupling takes off a plot of a target closing at
    ``cells_per_cpi``: its Doppler ``f_d = -2 v / lambda`` times ``T fs / B``."""
    velocity = cells_per_cpi * radar.range_bin_m / (radar.pulses_per_cpi * radar.pri_s)
    doppler_hz = -2 * velocity / radar.wavelength_m
    return doppler_hz * radar.pulse_width_s * radar.sample_rate_hz / radar.bandwidth_hz


@pytest.mark.parametrize("waveform", ["lfm", "barker13"])
def test_a_tracked_plots_range_is_corrected_for_the_chirps_coupling(waveform):
    """A 2.6 km/s missile's plot of a 104 us, 0.5 MHz chirp lies 16 cells (237 m) early; the record of the plot that updated its track carries the corrected
    range, the untracked plot's record and a Barker code's carry the plot's own."""
    radar = {**SCENARIO.as_dict()["radar"], "bandwidth_hz": 0.5e6, "pulse_width_s": 104e-6,
             "waveform": waveform}
    scenario = parse_scenario({**SCENARIO.as_dict(), "radar": radar})
    r = scenario.radar
    plots = {k: v[:2] for k, v in PLOTS.items()}
    tracks = {"cpi": np.array([0]), "track_id": np.array([9]), "status": np.array([1]),
              "range_pos": np.array([3000 * 256]), "range_rate": np.array([round(-2.8 * 65536)]),
              "plot": np.array([1])}
    tracked, untracked = [rec for rec in decode(asterix_records(
        scenario, SITE, plots, "plots", tracks=tracks)) if rec["cat"] == 48]
    cell = plots["range_pos"] / 256 - (r.pulse_samples - 1)
    shift = coupling_cells(r, -2.8) if waveform == "lfm" else 0.0
    assert waveform == "barker13" or shift > 2 * RHO_LSB * NM / r.range_bin_m
    assert abs(tracked["rho"] - (cell[0] + shift) * r.range_bin_m / NM) <= RHO_LSB / 2
    assert abs(untracked["rho"] - cell[1] * r.range_bin_m / NM) <= RHO_LSB / 2


def test_plots_with_a_hand_made_track_list():
    datagrams = asterix_records(SCENARIO, SITE, PLOTS, "plots", tracks=TRACKS, simulated=True)
    assert len(datagrams) == 3 and datagrams.skipped == 0
    mid = 8 * R.pri_s
    cell = PLOTS["range_pos"] / 256
    tcell = TRACKS["range_pos"] / 256

    cpi0 = check_service(decode([datagrams[0]]), 0, True)
    assert len(cpi0) == 2
    check_target(cpi0[0], mid, range_m(cell[0]), True, 10 ** 9, 10 ** 7)
    assert "track_number" not in cpi0[0]
    check_target(cpi0[1], mid, range_m(cell[1]), True, 5 * 10 ** 7, 10 ** 7)   # the plot's range
    check_track(cpi0[1], 5, False, 0, range_m(tcell[0]))                        # tentative

    cpi1 = check_service(decode([datagrams[1]]), 1, True)
    assert len(cpi1) == 2
    check_target(cpi1[0], 16 * R.pri_s + mid, range_m(cell[2] + coupling_cells(R, CELLS_PER_CPI)),
                 True, 10 ** 9, 10 ** 7)
    check_track(cpi1[0], 5, True, TRACKS["range_rate"][1], range_m(tcell[1]))
    check_target(cpi1[1], 16 * R.pri_s + mid, range_m(tcell[2]), True, typ=0)   # no detection
    check_track(cpi1[1], 4100, True, 40000, range_m(tcell[2]))

    cpi2 = check_service(decode([datagrams[2]]), 2, True)
    assert len(cpi2) == 1
    check_target(cpi2[0], 32 * R.pri_s + mid, range_m(tcell[3]), True, typ=0)
    check_track(cpi2[0], 5, True, TRACKS["range_rate"][3], range_m(tcell[3]))


def test_reports_overflowing_a_datagram_go_on_in_the_next():
    det = random_detections(120, seed=9)
    det["cpi"][:] = 1
    whole = asterix_records(SCENARIO, SITE, det, "detections")
    split = asterix_records(SCENARIO, SITE, det, "detections", max_datagram=256)
    assert max(len(d) for d in split) <= 256
    assert len(split) > len(whole) == 3
    assert split.cpis == sorted(split.cpis) and set(split.cpis) == {0, 1, 2}
    starts = [d[0] for d in split]
    assert starts.count(34) == 3                 # CAT034 opens only each CPI's first datagram
    assert decode(split) == decode(whole)


def test_write_ast(tmp_path):
    datagrams = asterix_records(SCENARIO, SITE, random_detections(10), "detections")
    write_ast(tmp_path / "run.ast", datagrams)
    assert (tmp_path / "run.ast").read_bytes() == b"".join(datagrams)


@pytest.mark.parametrize("call, error, message", [
    (lambda: asterix_records(SCENARIO, SITE, random_detections(3), "hits"), ValueError,
     "kind must be one of 'detections', 'plots', not 'hits'"),
    (lambda: asterix_records(SCENARIO, SITE, {"cpi": [0]}, "plots"), ValueError,
     "plots have no field 'range_pos' (needed: cpi, range_pos, power, threshold)"),
    (lambda: asterix_records(SCENARIO, SITE, dict(random_detections(3), cpi=[0, 3, 1]),
                             "detections"), ValueError,
     "detections hold cpi 3, outside the CPIs sent (0 to 2)"),
    (lambda: asterix_records(SCENARIO, SITE, random_detections(3), "detections", tracks=TRACKS),
     ValueError, "tracks go with kind 'plots' (the tracker follows plots)"),
    (lambda: asterix_records(SCENARIO, SITE, PLOTS, "plots", tracks=dict(TRACKS, plot=[3, 1, 0, 0])),
     ValueError, "track 5 in CPI 0 names plot 3, but the CPI has 2 plots"),
    (lambda: asterix_records(SCENARIO, SITE, PLOTS, "plots", tracks=dict(TRACKS, plot=[2, 1, 1, 0])),
     ValueError, "two tracks name plot 1 of CPI 1"),
    (lambda: asterix_records(SCENARIO, SITE, PLOTS, "plots", max_datagram=MAX_DATAGRAM + 1),
     ValueError, "max_datagram must be between 256 and 65507, not 65508"),
    (lambda: asterix_records(SCENARIO, SITE, PLOTS, "plots", simulated=1), TypeError,
     "simulated must be a bool, not 1"),
])
def test_bad_arguments(call, error, message):
    with pytest.raises(error) as e:
        call()
    assert str(e.value) == message


def test_no_reports_still_marks_every_cpi():
    empty = {name: np.zeros(0, dtype=np.int64)
             for name in ("cpi", "pulse", "range_bin", "power", "threshold")}
    datagrams = asterix_records(SCENARIO, SITE, empty, "detections")
    assert len(datagrams) == R.cpis and datagrams.skipped == 0
    for cpi, datagram in enumerate(datagrams):
        assert check_service(decode([datagram]), cpi, False) == []
