"""One ``detections.csv`` row, as ``amaradar sim`` and ``amaradar listen`` both write it."""

import math

from ...spec.physics import SPEED_OF_LIGHT
from ...spec.records import DETECTION, csv_columns

__all__ = ["DETECTION_CSV_COLUMNS", "detection_range_m", "power_db", "detection_row"]

#: Columns of ``detections.csv``, derived from the detection record.
DETECTION_CSV_COLUMNS = csv_columns(DETECTION)


def detection_range_m(range_bin, pulse_samples, sample_rate):
    """``c / 2 * (range_bin - (N - 1)) / sample_rate``: the range of the echo's leading
    edge, the matched filter's delay of ``N - 1`` samples removed (scalars or arrays)."""
    return SPEED_OF_LIGHT / 2 * (range_bin - (pulse_samples - 1)) / sample_rate


def power_db(value):
    """``10 * log10(value)`` of a power in LSB² of the detector; ``-inf`` for 0."""
    return 10 * math.log10(value) if value else -math.inf


def detection_row(cpi, pulse, time_s, range_m, range_bin, power, threshold):
    """One ``detections.csv`` row as strings; ``time_s`` or ``range_m`` None: empty.

    Times to 9 significant digits, ranges to the millimetre, power and threshold in
    dB (:func:`power_db`) to 3 decimals.
    """
    return [str(int(cpi)), str(int(pulse)), "" if time_s is None else f"{time_s:.9g}",
            "" if range_m is None else f"{range_m:.3f}", str(int(range_bin)),
            f"{power_db(power):.3f}", f"{power_db(threshold):.3f}"]
