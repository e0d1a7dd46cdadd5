"""One ``detections.csv`` row, as ``amaradar sim`` and ``amaradar listen`` both write it."""

import math

from ...hdl.track.tables import STATE_FRAC
from ...spec.physics import SPEED_OF_LIGHT
from ...spec.records import DETECTION, PLOT, POSITION_FRAC, csv_columns

__all__ = ["DETECTION_CSV_COLUMNS", "PLOT_CSV_COLUMNS", "TRACK_CSV_COLUMNS", "TRACK_STATUS_NAMES",
           "detection_range_m", "power_db", "detection_row", "plot_velocity_mps", "plot_row",
           "track_velocity_mps", "track_row"]

#: Columns of ``detections.csv``, derived from the detection record.
DETECTION_CSV_COLUMNS = csv_columns(DETECTION)
#: Columns of ``detections.csv`` of the range-Doppler chain (one row per plot per CPI).
PLOT_CSV_COLUMNS = csv_columns(PLOT)
#: Columns of ``tracks.csv``: one row per live track per CPI.
TRACK_CSV_COLUMNS = ("cpi", "time_s", "track_id", "status", "range_m", "radial_velocity_mps")
#: ``status`` of a track report (0, 1, 2) as ``tracks.csv`` names it.
TRACK_STATUS_NAMES = ("tentative", "confirmed", "coasting")


def detection_range_m(range_bin, pulse_samples, sample_rate):
    """``c / 2 * (range_bin - (N - 1)) / sample_rate``: the range of the echo's leading
    edge, the matched filter's delay of ``N - 1`` samples removed (scalars or arrays)."""
    return SPEED_OF_LIGHT / 2 * (range_bin - (pulse_samples - 1)) / sample_rate


def power_db(value):
    """``10 * log10(value)`` of a power in LSB² of the detector; ``-inf`` for 0."""
    return 10 * math.log10(value) if value else -math.inf


def _time(time_s):
    """A time to 9 significant digits; None (unknown): empty."""
    return "" if time_s is None else f"{time_s:.9g}"


def _milli(value):
    """A range (m) or velocity (m/s) to the thousandth; None (unknown): empty."""
    return "" if value is None else f"{value:.3f}"


def detection_row(cpi, pulse, time_s, range_m, range_bin, power, threshold):
    """One ``detections.csv`` row as strings; ``time_s`` or ``range_m`` None: empty.

    Times to 9 significant digits, ranges to the millimetre, power and threshold in
    dB (:func:`power_db`) to 3 decimals.
    """
    return [str(int(cpi)), str(int(pulse)), _time(time_s), _milli(range_m), str(int(range_bin)),
            f"{power_db(power):.3f}", f"{power_db(threshold):.3f}"]


def plot_velocity_mps(doppler_pos, pulses, pri_s, wavelength_m):
    """Radial velocity of a plot's interpolated Doppler position (1/256 bin, zero
    Doppler at bin M/2): ``f_d = (pos - M/2) PRF / M``, ``v = -lambda f_d / 2``,
    folded into ``[-v_u, v_u)``, ``v_u = lambda PRF / 4`` (scalars or arrays)."""
    bins = doppler_pos / (1 << POSITION_FRAC)
    velocity = -wavelength_m / 2 * (bins - pulses / 2) / (pulses * pri_s)
    limit = wavelength_m / pri_s / 4
    return (velocity + limit) % (2 * limit) - limit


def plot_row(cpi, time_s, range_m, radial_velocity_mps, range_pos, doppler_pos, pulses, power,
             threshold):
    """One ``detections.csv`` row of a plot as strings (``PLOT_CSV_COLUMNS``); ``pulse``
    is empty, ``range_bin`` and ``doppler_bin`` are the cells nearest the plot's
    interpolated position; a physical value None (unknown): empty.

    Times to 9 significant digits, range to the millimetre, velocity to the
    millimetre per second, power and threshold in dB (:func:`power_db`) to 3 decimals.
    """
    half = 1 << (POSITION_FRAC - 1)
    return [str(int(cpi)), "", _time(time_s), _milli(range_m), _milli(radial_velocity_mps),
            str((int(range_pos) + half) >> POSITION_FRAC),
            str(((int(doppler_pos) + half) >> POSITION_FRAC) % pulses),
            f"{power_db(power):.3f}", f"{power_db(threshold):.3f}"]


def track_velocity_mps(range_rate, pulses, line_samples):
    """Radial velocity of a track's range rate (``2**-STATE_FRAC`` range cell per CPI of
    ``pulses`` lines of ``line_samples`` samples): ``rate * c / (2 M L)``, whatever the
    sample rate (scalars or arrays); negative closing, not folded."""
    return range_rate / (1 << STATE_FRAC) * SPEED_OF_LIGHT / (2 * pulses * line_samples)


def track_row(cpi, time_s, track_id, status, range_m, radial_velocity_mps):
    """One ``tracks.csv`` row as strings (``TRACK_CSV_COLUMNS``): the status by name (a code
    without one as its number), times to 9 significant digits, range to the millimetre,
    velocity to the millimetre per second; a physical value None (unknown): empty."""
    status = int(status)
    name = TRACK_STATUS_NAMES[status] if status < len(TRACK_STATUS_NAMES) else str(status)
    return [str(int(cpi)), _time(time_s), str(int(track_id)), name, _milli(range_m),
            _milli(radial_velocity_mps)]
