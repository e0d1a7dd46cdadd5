"""ASTERIX out: a run's reports as EUROCONTROL CAT034 and CAT048 data blocks.

Encoded with ``libasterix`` (the Python library of the asterix-specs project:
every category and edition generated from machine-readable specifications, pure
Python, encoder and decoder). This module computes each field's raw integer, with
the rounding stated below; the library lays out the items, FSPECs and data blocks.
Editions: CAT034 1.29 (service messages) and CAT048 1.32 (monoradar target
reports).

One datagram per CPI
--------------------
Each datagram holds a CAT034 data block, then a CAT048 data block with the CPI's
target reports. Should a CPI's reports not fit ``max_datagram`` bytes, they go on
in further datagrams holding CAT048 only.

CAT034, first datagram only: system configuration (a north marker message)
    I034/010 SAC/SIC; I034/000 = 1; I034/030 time of day of the first pulse;
    I034/050 common part (NOGO = 1, "operational use inhibited", when the
    reports are simulated, else 0; every other flag 0); I034/100 the window the
    beam covers: range from ``c T / 2`` (the receiver is gated while it
    transmits) to ``c PRI / 2`` (saturated at 65535/256 NM), azimuth boresight
    ± beamwidth / 2; I034/120 the site's height (m), latitude and longitude
    (180/2**23 degree; longitude 180 is sent as -180).
CAT034, every CPI: sector crossing message
    I034/010; I034/000 = 2; I034/020 the boresight azimuth (360/256 degree);
    I034/030 time of day of the CPI's first pulse.
CAT048, one record per report
    I048/010 SAC/SIC; I048/140 time of day; I048/020 TYP = 1 (single PSR
    detection; 0, "no detection", for a coasting track), SIM = ``simulated``,
    RDP = SPI = RAB = 0; I048/040 RHO, the report's range, and THETA, the
    boresight (360/2**16 degree); I048/130 PAM, the peak power over its CFAR
    threshold, ``10 log10(power / threshold)`` dB (the receiver is not
    calibrated in dBm), saturated to -128 ... 127.
    With a track: I048/161 track number (``track_id`` modulo 4096); I048/042
    the track's range along the boresight as x (east) and y (north), 1/128 NM;
    I048/200 its radial velocity as a ground speed (2**-14 NM/s) along the beam,
    heading the boresight when it opens and the boresight + 180 degree when it
    closes; I048/170 CNF (0 confirmed or coasting, 1 tentative), RAD = 1 (PSR
    track), DOU = MAH = 0, CDM = 3 (unknown).

Times and ranges
----------------
Time of day: UTC seconds since midnight, the site's first pulse (``start_utc +
time_offset_s``) plus the time of the report, in 1/128 s (wraps at midnight). A detection's time is its pulse's
transmit time ``(cpi M + pulse) PRI``; a plot's and a track's the CPI's middle
pulse ``(cpi M + M // 2) PRI`` (as ``plot_truth`` takes it). Ranges: the echo's
leading edge, ``c / 2 (cell - (N - 1)) / fs`` (``cell = range_bin``, or
``range_pos / 256`` of a plot or track), in 1/256 NM (1 NM = 1852 m). A track's
velocity is ``range_rate 2**-16 (c / 2 fs) / (M PRI)``. The range of a plot that
updated a track is corrected for the LFM's range-Doppler coupling, as the tracker
corrects it, with the Doppler the track's range rate unfolds to (a closing target's
plot lies ``f_d T / B`` early); an untracked plot's Doppler is folded and its range
is not corrected, nor is any when ``scenario.radar.waveform`` is None (a board's
link tells its timing, not its sweep).

Every raw value is rounded half to even. A report whose range does not fit
I048/040 (below 0 or at or beyond 256 NM) is not sent: the count is the result's
``skipped``; I048/200 or I048/042 that do not fit their fields are left out of
their record.
"""

import math

import numpy as np

from ..hdl.track.tables import STATE_FRAC, STATUS_TENTATIVE
from ..spec.checks import check_integer
from ..spec.physics import SPEED_OF_LIGHT
from ..sim.models.track.tracker import tracker_radar
from ..spec.records import POSITION_FRAC
from .writers.rows import detection_range_m

__all__ = ["KINDS", "NAUTICAL_MILE_M", "MAX_DATAGRAM", "CAT034_EDITION", "CAT048_EDITION",
           "AsterixDatagrams", "asterix_records", "write_ast"]

KINDS = ("detections", "plots")
NAUTICAL_MILE_M = 1852.0
#: The largest UDP payload over IPv4.
MAX_DATAGRAM = 65507
_MIN_DATAGRAM = 256
CAT034_EDITION = (1, 29)
CAT048_EDITION = (1, 32)

_TOD_SCALE = 128                     # I034/030, I048/140: 1/128 s
_TOD_WRAP = 86400 * _TOD_SCALE
_RHO_SCALE = 256 / NAUTICAL_MILE_M   # I048/040, I034/100: 1/256 NM
_XY_SCALE = 128 / NAUTICAL_MILE_M    # I048/042: 1/128 NM
_GSP_SCALE = (1 << 14) / NAUTICAL_MILE_M   # I048/200: 2**-14 NM/s
_LATLON_LSB = 180 / (1 << 23)        # I034/120
_REQUIRED = {
    "detections": ("cpi", "pulse", "range_bin", "power", "threshold"),
    "plots": ("cpi", "range_pos", "power", "threshold"),
}
_TRACK_FIELDS = ("cpi", "track_id", "status", "range_pos", "range_rate", "plot")


class AsterixDatagrams(list):
    """The datagrams (``bytes``) of a run, in order, with

    Attributes
    ----------
    timestamps : list of float
        POSIX time (s) of each datagram: the end of its CPI, when its reports are
        complete.
    cpis : list of int
        The CPI of each datagram.
    skipped : int
        Reports left out because their range does not fit I048/040.
    """

    def __init__(self, datagrams=(), timestamps=(), cpis=(), skipped=0):
        super().__init__(datagrams)
        self.timestamps = list(timestamps)
        self.cpis = list(cpis)
        self.skipped = skipped


def _specs():
    import asterix.generated as gen
    return gen.Cat_034_1_29, gen.Cat_048_1_32


# --- raw field values -----------------------------------------------------------------------

def _time_of_day(site, t):
    return round(site.time_of_day_s(t) * _TOD_SCALE) % _TOD_WRAP


def _angle(degrees, steps):
    return round(degrees % 360 / 360 * steps) % steps


def _rho(range_m):
    """I048/040 RHO of ``range_m``, or None when it does not fit 16 bits."""
    raw = round(range_m * _RHO_SCALE)
    return raw if 0 <= raw <= 0xFFFF else None


def _pam(power, threshold):
    if power <= 0:
        return -128
    if threshold <= 0:
        return 127
    return max(-128, min(127, round(10 * math.log10(power / threshold))))


def _latlon(degrees):
    raw = round(degrees / _LATLON_LSB)
    return -(1 << 23) if raw == 1 << 23 else raw


def _velocity_items(range_m, velocity_mps, azimuth_deg):
    """I048/042 and I048/200 of a track, each None when it does not fit."""
    az = math.radians(azimuth_deg)
    x = round(range_m * math.sin(az) * _XY_SCALE)
    y = round(range_m * math.cos(az) * _XY_SCALE)
    xy = (("X", x), ("Y", y)) if -0x8000 <= min(x, y) and max(x, y) <= 0x7FFF else None
    gsp = round(abs(velocity_mps) * _GSP_SCALE)
    heading = azimuth_deg + (180 if velocity_mps < 0 else 0)
    polar = (("GSP", gsp), ("HDG", _angle(heading, 1 << 16))) if gsp <= 0xFFFF else None
    return xy, polar


# --- records --------------------------------------------------------------------------------

def _source(site):
    return (("SAC", site.sac), ("SIC", site.sic))


def _configuration_record(cat034, scenario, site, simulated):
    r = scenario.radar
    half = site.beamwidth_deg / 2
    nearest = min(0xFFFF, round(SPEED_OF_LIGHT * r.pulse_width_s / 2 * _RHO_SCALE))
    farthest = min(0xFFFF, round(r.unambiguous_range_m * _RHO_SCALE))
    return cat034.cv_record.create({
        "000": 1,
        "010": _source(site),
        "030": _time_of_day(site, 0.0),
        "050": {"COM": (("NOGO", int(simulated)), ("RDPC", 0), ("RDPR", 0), ("OVLRDP", 0),
                        ("OVLXMT", 0), ("MSC", 0), ("TSV", 0), 0)},
        "100": (("RHOST", nearest), ("RHOEND", farthest),
                ("THETAST", _angle(site.azimuth_deg - half, 1 << 16)),
                ("THETAEND", _angle(site.azimuth_deg + half, 1 << 16))),
        "120": (("HGT", round(site.altitude_m)), ("LAT", _latlon(site.latitude_deg)),
                ("LON", _latlon(site.longitude_deg))),
    })


def _sector_record(cat034, site, t):
    return cat034.cv_record.create({
        "000": 2, "010": _source(site), "020": _angle(site.azimuth_deg, 256),
        "030": _time_of_day(site, t)})


def _target_record(cat048, site, t, rho, simulated, pam=None, track=None):
    """One I048 record; ``track`` = (number, status, xy, polar) or None."""
    typ = 1 if pam is not None else 0
    items = {
        "010": _source(site),
        "140": _time_of_day(site, t),
        "020": ((("TYP", typ), ("SIM", int(simulated)), ("RDP", 0), ("SPI", 0), ("RAB", 0), None),),
        "040": (("RHO", rho), ("THETA", _angle(site.azimuth_deg, 1 << 16))),
    }
    if pam is not None:
        items["130"] = {"PAM": pam}
    if track is not None:
        number, status, xy, polar = track
        items["161"] = (0, ("TRN", number % 4096))
        if xy is not None:
            items["042"] = xy
        if polar is not None:
            items["200"] = polar
        cnf = 1 if status == STATUS_TENTATIVE else 0
        items["170"] = ((("CNF", cnf), ("RAD", 1), ("DOU", 0), ("MAH", 0), ("CDM", 3), None),)
    return cat048.cv_record.create(items)


# --- the reports of a run -------------------------------------------------------------------

def _columns(table, names, what):
    out = {}
    for name in names:
        try:
            out[name] = np.asarray(table[name]).astype(np.int64)
        except (KeyError, ValueError, IndexError):
            raise ValueError(f"{what} have no field {name!r} (needed: {', '.join(names)})") from None
    lengths = {len(v) for v in out.values()}
    if len(lengths) > 1:
        raise ValueError(f"the fields of {what} differ in length")
    return out


def _check_cpis(cpi, cpis, what):
    outside = ~np.isin(cpi, cpis)
    if outside.any():
        raise ValueError(f"{what} hold cpi {int(cpi[outside][0])}, outside the CPIs sent "
                         f"({cpis[0]} to {cpis[-1]})")


def _tracks_by_plot(tracks, plots):
    """``{(cpi, plot index): track row}`` and ``{cpi: [rows without a plot]}``."""
    linked, unplotted = {}, {}
    for row in range(len(tracks["cpi"])):
        cpi, plot = int(tracks["cpi"][row]), int(tracks["plot"][row])
        if plot == 0:
            unplotted.setdefault(cpi, []).append(row)
            continue
        count = int(np.count_nonzero(plots["cpi"] == cpi))
        if not 1 <= plot <= count:
            raise ValueError(f"track {int(tracks['track_id'][row])} in CPI {cpi} names plot {plot}, "
                             f"but the CPI has {count} plots")
        key = (cpi, plot - 1)
        if key in linked:
            raise ValueError(f"two tracks name plot {plot} of CPI {cpi}")
        linked[key] = row
    return linked, unplotted


def asterix_records(scenario, site, reports, kind, *, tracks=None, simulated=False,
                    max_datagram=MAX_DATAGRAM, cpis=None, configuration=True):
    """The datagrams of a run's reports: CAT034 and CAT048 (see the module docstring).

    Parameters
    ----------
    scenario : Scenario
        Radar timing (``sample_rate_hz``, ``pri_s``, ``pulses_per_cpi``, pulse
        length, ``cpis``).
    site : Site
        SAC/SIC, position, boresight, beamwidth and ``start_utc``.
    reports : dict of arrays or structured ndarray
        ``kind = "detections"``: fields ``cpi``, ``pulse``, ``range_bin``,
        ``power``, ``threshold`` (the ``DETECTION`` record); ``"plots"``:
        ``cpi``, ``range_pos``, ``power``, ``threshold`` (the ``PLOT`` record),
        each CPI's plots in the order the tracker saw them.
    kind : str
        ``"detections"`` or ``"plots"``.
    tracks : dict of arrays or structured ndarray, optional
        Track reports (plots only): ``cpi``, ``track_id``, ``status`` (0
        tentative, 1 confirmed, 2 coasting), ``range_pos`` (1/256 cell),
        ``range_rate`` (2**-16 cell per CPI) and ``plot`` (1 + index of the CPI's
        plot that updated it, 0 for none), as the tracker model reports them.
        A track with a plot shares that plot's record; one without gets its own.
    simulated : bool
        Mark the reports simulated (I048/020 SIM) and the system not for
        operational use (I034/050 NOGO).
    max_datagram : int
        Largest datagram, bytes (256 to 65507).
    cpis : sequence of int, optional
        The CPIs to send, in increasing order (default: the scenario's, from 0); a
        receiver that sends CPI by CPI (``amaradar listen``) gives one.
    configuration : bool
        Open the first CPI's datagram with the system configuration message.

    Returns
    -------
    AsterixDatagrams
        A list of ``bytes``, one per CPI (more where a CPI's reports overflow a
        datagram), with ``timestamps``, ``cpis`` and ``skipped``.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}, not {kind!r}")
    if not isinstance(simulated, bool):
        raise TypeError(f"simulated must be a bool, not {simulated!r}")
    limit = check_integer("max_datagram", max_datagram, _MIN_DATAGRAM, MAX_DATAGRAM)
    r = scenario.radar
    cpis = np.arange(r.cpis) if cpis is None else np.asarray(cpis, dtype=np.int64)
    rep = _columns(reports, _REQUIRED[kind], kind)
    _check_cpis(rep["cpi"], cpis, kind)
    if tracks is not None:
        if kind != "plots":
            raise ValueError("tracks go with kind 'plots' (the tracker follows plots)")
        tracks = _columns(tracks, _TRACK_FIELDS, "tracks")
        _check_cpis(tracks["cpi"], cpis, "tracks")
        linked, unplotted = _tracks_by_plot(tracks, rep)
    else:
        linked, unplotted = {}, {}

    cat034, cat048 = _specs()
    m, n, fs = r.pulses_per_cpi, r.pulse_samples, r.sample_rate_hz
    scale = 1 << POSITION_FRAC
    if kind == "detections":
        ranges = detection_range_m(rep["range_bin"].astype(np.float64), n, fs)
        times = (rep["cpi"] * m + rep["pulse"]) * r.pri_s
    else:
        ranges = detection_range_m(rep["range_pos"] / scale, n, fs)
        times = (rep["cpi"] * m + m // 2) * r.pri_s
    mps_per_rate = r.range_bin_m / (m * r.pri_s) / (1 << STATE_FRAC)
    coupling = 0.0 if tracks is None or r.waveform is None else \
        tracker_radar(r).coupling_per_rate / (1 << STATE_FRAC)

    def track_item(row):
        range_m = float(detection_range_m(tracks["range_pos"][row] / scale, n, fs))
        xy, polar = _velocity_items(range_m, float(tracks["range_rate"][row]) * mps_per_rate,
                                    site.azimuth_deg)
        return range_m, (int(tracks["track_id"][row]), int(tracks["status"][row]), xy, polar)

    out = AsterixDatagrams()
    order = np.argsort(rep["cpi"], kind="stable")
    starts = np.searchsorted(rep["cpi"][order], cpis)
    stops = np.searchsorted(rep["cpi"][order], cpis, side="right")
    for k, cpi in enumerate(int(c) for c in cpis):
        start_t = cpi * m * r.pri_s
        service = [_sector_record(cat034, site, start_t)]
        if configuration and k == 0:
            service.insert(0, _configuration_record(cat034, scenario, site, simulated))
        records = []
        for index, row in enumerate(order[starts[k]:stops[k]]):
            track_row = linked.get((cpi, index))
            rho = _rho(float(ranges[row]) if track_row is None else float(detection_range_m(
                rep["range_pos"][row] / scale + coupling * tracks["range_rate"][track_row], n, fs)))
            if rho is None:
                out.skipped += 1
                continue
            track = None if track_row is None else track_item(track_row)[1]
            pam = _pam(int(rep["power"][row]), int(rep["threshold"][row]))
            records.append(_target_record(cat048, site, float(times[row]), rho, simulated,
                                          pam=pam, track=track))
        for row in unplotted.get(cpi, ()):
            range_m, track = track_item(row)
            rho = _rho(range_m)
            if rho is None:
                out.skipped += 1
                continue
            records.append(_target_record(cat048, site, start_t + m // 2 * r.pri_s, rho,
                                          simulated, track=track))
        head = cat034.create(service).unparse().to_bytes()
        for datagram in _pack(cat048, head, records, limit):
            out.append(datagram)
            out.timestamps.append(site.start_posix_s + (cpi + 1) * m * r.pri_s)
            out.cpis.append(cpi)
    return out


def _pack(cat048, head, records, limit):
    """``head`` then the records in CAT048 data blocks, split over datagrams of at most
    ``limit`` bytes (a data block adds 3 bytes to its records)."""
    datagrams, batch, size = [], [], len(head) + 3
    for record in records:
        length = len(record.unparse().to_bytes())
        if batch and size + length > limit:
            datagrams.append(head + cat048.create(batch).unparse().to_bytes())
            head, batch, size = b"", [], 3
        batch.append(record)
        size += length
    datagrams.append(head + (cat048.create(batch).unparse().to_bytes() if batch else b""))
    return datagrams


def write_ast(path, datagrams):
    """Write the datagrams one after the other: the raw ASTERIX byte stream (``.ast``)."""
    with open(path, "wb") as f:
        for datagram in datagrams:
            f.write(datagram)
