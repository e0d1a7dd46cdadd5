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

The report layouts are derived from the records of ``amaradar.spec.records``.
"""

from amaranth import signed, unsigned
from amaranth.lib import data

from ..spec.checks import check_width
from ..spec.records import DETECTION, HIT, PLOT

__all__ = [
    "ADC_WIDTH", "COEF_WIDTH", "MF_OUT_WIDTH", "CFAR_SCALE_FRAC", "CFAR_SCALE_WIDTH",
    "NOISE_SEED_WIDTH",
    "complex_layout", "framed_layout", "record_layout", "detection_layout", "hits_layout",
    "plots_layout", "power_width",
    "pack", "unpack", "leaf_fields",
]

ADC_WIDTH = 12
COEF_WIDTH = 16
MF_OUT_WIDTH = 18
CFAR_SCALE_FRAC = 16
CFAR_SCALE_WIDTH = 20
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


def record_layout(record, **widths):
    """The payload layout of a record of ``amaradar.spec.records``: each field
    ``unsigned`` (``signed`` where the record says so) of its fixed ``bits``, or of
    the width given by keyword for its ``width_param``."""
    needed = {f.width_param for f in record if f.bits is None}
    if set(widths) != needed:
        raise TypeError(f"record layout needs the widths {sorted(needed)}, not {sorted(widths)}")
    for name, value in widths.items():
        check_width(name, value)
    return data.StructLayout({f.name: (signed if f.signed else unsigned)(f.bits or widths[f.width_param])
                              for f in record})


def detection_layout(*, range_bits, power_bits):
    """A CFAR detection (``amaradar.spec.records.DETECTION``): one cell of one range
    line whose power exceeds its threshold; ``range_bin`` of ``range_bits``,
    ``power`` and ``threshold`` of ``power_bits``."""
    return record_layout(DETECTION, range_bits=range_bits, power_bits=power_bits)


def hits_layout(*, range_bits, doppler_bits, power_bits):
    """A word of the CFAR's output on the range–Doppler map: a hit
    (``amaradar.spec.records.HIT``) or, with ``cpi_end`` set, the marker that ends
    a CPI's hits (then only ``hit.cpi`` is meaningful; every CPI ends with one, so
    a CPI without hits is still seen).

    Fields
    ------
    hit : record_layout(HIT, range_bits=, doppler_bits=, power_bits=)
    cpi_end : 1
    """
    return data.StructLayout({
        "hit": record_layout(HIT, range_bits=range_bits, doppler_bits=doppler_bits,
                             power_bits=power_bits),
        "cpi_end": 1})


def plots_layout(*, range_pos_bits, doppler_pos_bits, power_bits):
    """A word of the plot extractor's output: a plot (``amaradar.spec.records.PLOT``)
    or, with ``cpi_end`` set, the marker that ends a CPI's plots (then only
    ``plot.cpi`` is meaningful).

    Fields
    ------
    plot : record_layout(PLOT, range_pos_bits=, doppler_pos_bits=, power_bits=)
    cpi_end : 1
    """
    return data.StructLayout({
        "plot": record_layout(PLOT, range_pos_bits=range_pos_bits,
                              doppler_pos_bits=doppler_pos_bits, power_bits=power_bits),
        "cpi_end": 1})


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
