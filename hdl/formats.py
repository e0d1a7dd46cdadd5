"""Every fixed-point format and stream payload layout of the chain, named once.

Amaranth 0.5 has no fixed-point type. A sample is a signed integer; its *format*
says how many bits it has and where the binary point sits, and this module is the
only place where those numbers are written. The numpy models in ``amaradar.sim``
import the same constants and pack/unpack payloads with the same layouts.

Defaults
--------
ADC_WIDTH         12 bits per I and Q at the chain input (two's complement).
COEF_WIDTH        16 bits per I and Q of a matched-filter coefficient (Q1.15).
MF_OUT_WIDTH      18 bits per I and Q after pulse compression.
CFAR_SCALE_FRAC   fractional bits of the CFAR threshold scale (alpha / n).
CFAR_SCALE_WIDTH  total bits of that unsigned scale (UQ4.16: 0 ... 16 - 2^-16).
CPI_WIDTH         bits of the CPI counter carried by a detection.
PULSE_WIDTH       bits of the pulse (range line) index within a CPI.
"""

import numbers

from amaranth import signed, unsigned
from amaranth.lib import data

__all__ = [
    "ADC_WIDTH", "COEF_WIDTH", "MF_OUT_WIDTH", "CFAR_SCALE_FRAC", "CFAR_SCALE_WIDTH",
    "CPI_WIDTH", "PULSE_WIDTH", "NOISE_SEED_WIDTH",
    "complex_layout", "framed_layout", "detection_layout", "power_width",
    "pack", "unpack", "leaf_fields", "check_width", "check_integer",
]

ADC_WIDTH = 12
COEF_WIDTH = 16
MF_OUT_WIDTH = 18
CFAR_SCALE_FRAC = 16
CFAR_SCALE_WIDTH = 20
CPI_WIDTH = 16
PULSE_WIDTH = 12
NOISE_SEED_WIDTH = 32


def complex_layout(width):
    """A complex sample: ``i`` and ``q``, each ``signed(width)``."""
    check_width("width", width)
    return data.StructLayout({"i": signed(width), "q": signed(width)})


def framed_layout(data_shape):
    """A stream sample with range-line framing.

    Fields
    ------
    data : data_shape
        The sample (a complex layout, or an unsigned power).
    first : 1
        First sample of a range line (the sample taken at the transmit pulse's
        leading edge).
    last : 1
        Last sample of a range line.
    cpi_end : 1
        Set together with ``last`` on the final range line of a CPI.
    """
    return data.StructLayout({"data": data_shape, "first": 1, "last": 1, "cpi_end": 1})


def power_width(sample_width):
    """Bits of ``i**2 + q**2`` for a ``complex_layout(sample_width)``: exact, unsigned.

    The largest value is ``2 * (-2**(w-1))**2 = 2**(2w-1)``, which needs ``2w`` bits.
    """
    check_width("sample_width", sample_width)
    return 2 * sample_width


def detection_layout(*, range_bits, power_bits):
    """A CFAR detection: one cell of one range line whose power exceeds its threshold.

    Fields
    ------
    cpi : unsigned(CPI_WIDTH)
        CPI counter since reset (wraps modulo ``2**CPI_WIDTH``).
    pulse : unsigned(PULSE_WIDTH)
        Range line within the CPI, from 0.
    range_bin : unsigned(range_bits)
        Sample index of the cell within the compressed range line, from 0.
    power : unsigned(power_bits)
        Power of the cell under test.
    threshold : unsigned(power_bits)
        Threshold it exceeded, truncated, saturated to ``power_bits``.
    """
    check_width("range_bits", range_bits)
    check_width("power_bits", power_bits)
    return data.StructLayout({
        "cpi": unsigned(CPI_WIDTH),
        "pulse": unsigned(PULSE_WIDTH),
        "range_bin": unsigned(range_bits),
        "power": unsigned(power_bits),
        "threshold": unsigned(power_bits),
    })


def check_width(name, value):
    """Raise ``TypeError`` unless ``value`` is a positive ``int`` (a bit width)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise TypeError(f"{name} must be a positive integer, not {value!r}")


def check_integer(name, value, low, high=None):
    """Return ``value`` as an ``int`` after checking ``low <= value <= high``.

    Raises ``TypeError`` for a non-integer (``bool`` included) and ``ValueError``
    outside the range (``high=None``: no upper limit).
    """
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    value = int(value)
    if high is None and value < low:
        raise ValueError(f"{name} must be >= {low}, not {value}")
    if high is not None and not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, not {value}")
    return value


def leaf_fields(layout, prefix=""):
    """Yield ``(dotted_name, offset, width, signed)`` for every leaf of ``layout``."""
    for name, field in layout:
        shape = field.shape
        if isinstance(shape, data.Layout):
            for sub, offset, width, sign in leaf_fields(shape, f"{prefix}{name}."):
                yield sub, field.offset + offset, width, sign
        else:
            shape = unsigned(shape) if isinstance(shape, int) else shape
            shape = shape.as_shape() if hasattr(shape, "as_shape") else shape
            yield f"{prefix}{name}", field.offset, shape.width, shape.signed


def pack(layout, **columns):
    """Pack columns of integers into payload words of ``layout``.

    Each keyword is a dotted leaf name (``data.i``, ``first``, ...) with an array of
    integers; leaves not given are zero. Returns a list of Python ints (a payload may
    be wider than 64 bits).
    """
    import numpy as np
    leaves = {name: (offset, width) for name, offset, width, _ in leaf_fields(layout)}
    unknown = set(columns) - set(leaves)
    if unknown:
        raise KeyError(f"layout has no field(s) {sorted(unknown)}; it has {sorted(leaves)}")
    count = {len(np.atleast_1d(v)) for v in columns.values()}
    if len(count) != 1:
        raise ValueError(f"columns differ in length: {sorted(count)}")
    n = count.pop()
    words = [0] * n
    for name, values in columns.items():
        offset, width = leaves[name]
        mask = (1 << width) - 1
        for k, v in enumerate(np.atleast_1d(values).tolist()):
            words[k] |= (int(v) & mask) << offset
    return words


def unpack(layout, words):
    """Unpack payload words of ``layout`` into a dict of int64 numpy arrays by leaf name."""
    import numpy as np
    out = {}
    for name, offset, width, sign in leaf_fields(layout):
        mask = (1 << width) - 1
        vals = [(int(w) >> offset) & mask for w in words]
        if sign:
            vals = [v - (1 << width) if v >> (width - 1) else v for v in vals]
        out[name] = np.array(vals, dtype=np.int64)
    return out
