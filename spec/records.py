"""The records the chain reports, declared once: field names, widths, units.

Each record is a tuple of :class:`Field`. From it are derived

* the gateware payload layout (``amaradar.hdl.formats``): a field's ``bits``, or,
  where the elaboration sets the width, the width parameter ``width_param``;
* the models' numpy dtype (:func:`numpy_fields`): every field an ``int64``;
* the report link's frame (``amaradar.spec.link``): ``link_bytes`` per field,
  big-endian, in declaration order;
* the CSV columns (:func:`csv_columns`): each field's ``csv`` names, in order.
"""

from dataclasses import dataclass

__all__ = ["Field", "CPI_WIDTH", "PULSE_WIDTH", "POSITION_FRAC", "DETECTION", "HIT", "PLOT", "TRACK",
           "STATUS", "STATUS_FLAGS", "DOPPLER_STATUS_FLAGS", "RESET_FLAG",
           "field_names", "link_fields", "csv_columns", "numpy_fields"]

CPI_WIDTH = 16     # bits of the CPI counter carried by a report (wraps)
PULSE_WIDTH = 12   # bits of the range-line index within a CPI
POSITION_FRAC = 8  # fraction bits of a plot's interpolated range and Doppler positions


@dataclass(frozen=True)
class Field:
    """One field of a record.

    Attributes
    ----------
    name : str
    link_bytes : int
        Bytes on the report link (big-endian; two's complement where ``signed``).
    unit : str
        Unit of the integer value.
    doc : str
        Meaning.
    bits : int or None
        Gateware width where it is fixed; None where ``width_param`` sets it.
    width_param : str or None
        Name of the elaboration parameter that sets the width (at most
        ``8 * link_bytes``).
    csv : tuple of str
        Columns of the CSV rows that the host writes from this field, in order
        (physical columns derived from the field come with it: ``pulse`` gives
        its transmit time, ``range_bin`` its range).
    signed : bool
        Two's complement in the gateware (on the link too, where a record is sent).
    """
    name: str
    link_bytes: int
    unit: str
    doc: str
    bits: int = None
    width_param: str = None
    csv: tuple = ()
    signed: bool = False


DETECTION = (
    Field("cpi", 2, "CPI", "CPI counter since reset (wraps modulo 2**CPI_WIDTH)",
          bits=CPI_WIDTH, csv=("cpi",)),
    Field("pulse", 2, "range line", "range line within the CPI, from 0",
          bits=PULSE_WIDTH, csv=("pulse", "time_s")),
    Field("range_bin", 2, "sample", "sample index of the cell in the compressed range line",
          width_param="range_bits", csv=("range_m", "range_bin")),
    Field("power", 6, "LSB^2", "power of the cell under test, detector LSB²",
          width_param="power_bits", csv=("power_db",)),
    Field("threshold", 6, "LSB^2", "CFAR threshold it exceeded, truncated and saturated",
          width_param="power_bits", csv=("threshold_db",)),
)

#: A cell of the range–Doppler map over its CFAR threshold, with the powers of its
#: four neighbours (range ± 1 in its Doppler bin, Doppler ± 1 circularly in its
#: range bin) that plot extraction interpolates with. Not on the link.
HIT = (
    Field("cpi", 2, "CPI", "CPI counter since reset (wraps modulo 2**CPI_WIDTH)", bits=CPI_WIDTH),
    Field("range_bin", 2, "sample", "range cell", width_param="range_bits"),
    Field("doppler_bin", 2, "bin", "Doppler cell, 0 ... M-1, zero Doppler at M/2",
          width_param="doppler_bits"),
    Field("power", 6, "LSB^2", "power of the cell", width_param="power_bits"),
    Field("threshold", 6, "LSB^2", "CFAR threshold it exceeded", width_param="power_bits"),
    Field("range_before", 6, "LSB^2", "power at range_bin - 1", width_param="power_bits"),
    Field("range_after", 6, "LSB^2", "power at range_bin + 1", width_param="power_bits"),
    Field("doppler_before", 6, "LSB^2", "power at doppler_bin - 1 (mod M)",
          width_param="power_bits"),
    Field("doppler_after", 6, "LSB^2", "power at doppler_bin + 1 (mod M)",
          width_param="power_bits"),
)

#: One measurement per target per CPI: a cluster of touching hits, at its peak
#: cell, its position refined below a cell (``POSITION_FRAC`` fraction bits).
PLOT = (
    Field("cpi", 2, "CPI", "CPI counter since reset (wraps modulo 2**CPI_WIDTH)",
          bits=CPI_WIDTH, csv=("cpi", "pulse", "time_s")),
    Field("range_pos", 3, "1/256 sample", "interpolated range cell, unsigned fixed point",
          width_param="range_pos_bits", csv=("range_m",)),
    Field("doppler_pos", 2, "1/256 bin", "interpolated Doppler cell, modulo M, zero at M/2",
          width_param="doppler_pos_bits", csv=("radial_velocity_mps", "range_bin", "doppler_bin")),
    Field("power", 6, "LSB^2", "power of the peak cell", width_param="power_bits",
          csv=("power_db",)),
    Field("threshold", 6, "LSB^2", "CFAR threshold at the peak cell", width_param="power_bits",
          csv=("threshold_db",)),
)

#: One report per live track per CPI (the tracker's output, ``hdl/track/tracker.py``).
TRACK = (
    Field("cpi", 2, "CPI", "CPI whose plots updated the track (wraps)", bits=CPI_WIDTH),
    Field("track_id", 4, "", "unique within a run, in order of initiation", width_param="id_bits"),
    Field("status", 1, "", "0 tentative, 1 confirmed, 2 coasting", bits=2),
    Field("range_pos", 4, "1/256 sample", "range after the update", width_param="range_pos_bits"),
    Field("range_rate", 4, "2**-16 sample per CPI", "range rate, negative closing",
          width_param="rate_bits", signed=True),
    Field("unfolded", 1, "", "1 once the rate comes from the unfolded Doppler", bits=1),
    Field("age", 1, "updates", "plots so far, saturating", width_param="age_bits"),
    Field("misses", 1, "CPIs", "consecutive CPIs without a plot", width_param="misses_bits"),
    Field("plot", 2, "", "1 + index of the CPI's plot that updated the track, 0 if none",
          width_param="plot_bits"),
)

STATUS = (
    Field("cpi", 2, "CPI", "CPI counter of the chain when the frame starts"),
    Field("flags", 1, "bits", "sticky overflow flags of the chain and the reset flag "
          "(STATUS_FLAGS, LSB first)"),
    Field("preset", 1, "", "echo-source preset playing in CPI cpi (0 without presets)"),
    Field("dropped_samples", 4, "samples", "samples the chain lost (e.g. ADC input overrun)"),
    Field("dropped_cap", 4, "reports", "detections dropped by the per-CPI report cap"),
    Field("dropped_full", 4, "reports", "detections dropped because the queue was full"),
    Field("range_bins", 2, "samples", "samples per range line L (0: unknown)"),
    Field("pulses", 2, "range lines", "range lines per CPI M (0: unknown)"),
    Field("sample_rate", 4, "Hz", "ADC sample rate (0: unknown)"),
    Field("pri", 4, "sample periods", "pulse repetition interval (0: unknown)"),
    Field("pulse_samples", 2, "samples", "transmit pulse length N (0: unknown)"),
)

#: Bits of the status ``flags`` field, LSB first: the chain's sticky overflow flags, then
#: ``reset``, which the framer sets in the first status frame after a reset (power-up
#: included) and in no other.
STATUS_FLAGS = ("mf_overflow", "power_overflow", "line_too_long", "pulse_overflow",
                "echo_overflow", "reset")
#: What each chain bit of :data:`STATUS_FLAGS` means on a range-Doppler board: the
#: range-Doppler chain's sticky flags ORed into it (its chain has no range-line or
#: pulse counters of the range-only CFAR; its framing and capacity flags take their places).
DOPPLER_STATUS_FLAGS = {"mf_overflow": ("mf_overflow",),
                        "power_overflow": ("doppler_overflow", "power_overflow"),
                        "line_too_long": ("framing_error", "config_error"),
                        "pulse_overflow": ("plot_overflow",)}
#: The bit of :data:`STATUS_FLAGS`' ``reset`` in the status ``flags`` field.
RESET_FLAG = 1 << STATUS_FLAGS.index("reset")


def field_names(record):
    """The field names of ``record``, in order."""
    return tuple(f.name for f in record)


def link_fields(record):
    """``((name, link_bytes), ...)`` of ``record``, in link order."""
    return tuple((f.name, f.link_bytes) for f in record)


def csv_columns(record):
    """The CSV columns derived from ``record``, in order."""
    return tuple(column for f in record for column in f.csv)


def numpy_fields(record):
    """``[(name, "int64"), ...]``: the models' structured dtype of ``record``."""
    return [(f.name, "int64") for f in record]
