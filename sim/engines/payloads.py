"""Vectorised payload packing: numpy integer columns <-> little-endian payload bytes.

The engines that run generated Verilog exchange stream payloads as raw bytes: one
row of ``ceil(layout.size / 8)`` bytes per word, least significant byte first,
the unused high bits of the last byte zero. These functions do what
:func:`amaradar.hdl.formats.pack` and :func:`~amaradar.hdl.formats.unpack` do,
on whole columns at once, so millions of words take well under a second. A payload
may be wider than 64 bits; each leaf field may be up to 63 bits wide.
"""

import numpy as np
from amaranth import Shape

from ...hdl.formats import leaf_fields

__all__ = ["payload_bytes", "pack_bytes", "unpack_bytes"]

MAX_LEAF_WIDTH = 63


def payload_bytes(layout):
    """Bytes per payload word of ``layout``: ``ceil(width / 8)``, at least 1."""
    return max(1, (Shape.cast(layout).width + 7) // 8)


def _leaves(layout):
    leaves = {}
    for name, offset, width, sign in leaf_fields(layout):
        if width > MAX_LEAF_WIDTH:
            raise ValueError(f"field {name!r} is {width} bits wide; "
                             f"pack_bytes handles fields of up to {MAX_LEAF_WIDTH} bits")
        if width:
            leaves[name] = (offset, width, sign)
    return leaves


def _spans(offset, width):
    """``(byte, shift)`` pairs: leaf bits ``v >> shift`` (or ``v << -shift``) land in ``byte``."""
    first, bit = divmod(offset, 8)
    count = (bit + width + 7) // 8
    return [(first + j, 8 * j - bit) for j in range(count)]


def pack_bytes(layout, columns):
    """Pack columns of integers into payload bytes of ``layout``.

    Parameters
    ----------
    layout : amaranth.lib.data.Layout
    columns : dict of str to array_like of int
        Dotted leaf names (``"data.i"``, ``"first"``) to equally long integer
        columns; leaves not given are zero. Each value is taken modulo
        ``2**width`` of its leaf (two's complement for negative values).

    Returns
    -------
    words : ndarray of uint8, shape (n, payload_bytes(layout))
    """
    leaves = _leaves(layout)
    unknown = set(columns) - set(leaves)
    if unknown:
        raise KeyError(f"layout has no field(s) {sorted(unknown)}; it has {sorted(leaves)}")
    arrays = {name: np.atleast_1d(np.asarray(values)) for name, values in columns.items()}
    lengths = {len(a) for a in arrays.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns differ in length: {sorted(lengths)}")
    n = lengths.pop() if lengths else 0
    words = np.zeros((n, payload_bytes(layout)), dtype=np.uint8)
    for name, values in arrays.items():
        offset, width, _ = leaves[name]
        value = values.astype(np.int64).view(np.uint64) & np.uint64((1 << width) - 1)
        for byte, shift in _spans(offset, width):
            part = value >> np.uint64(shift) if shift >= 0 else value << np.uint64(-shift)
            words[:, byte] |= (part & np.uint64(0xFF)).astype(np.uint8)
    return words


def unpack_bytes(layout, words):
    """Unpack payload bytes of ``layout`` into int64 columns by dotted leaf name.

    Parameters
    ----------
    layout : amaranth.lib.data.Layout
    words : ndarray of uint8, shape (n, payload_bytes(layout))

    Returns
    -------
    columns : dict of str to ndarray of int64
        Signed leaves are sign-extended, unsigned leaves are in ``[0, 2**width)``.
    """
    words = np.asarray(words)
    nbytes = payload_bytes(layout)
    if words.dtype != np.uint8 or words.ndim != 2 or words.shape[1] != nbytes:
        raise ValueError(f"words must be a uint8 array of shape (n, {nbytes}), "
                         f"not {words.dtype} {words.shape}")
    out = {}
    for name, (offset, width, sign) in _leaves(layout).items():
        value = np.zeros(len(words), dtype=np.uint64)
        for byte, shift in _spans(offset, width):
            part = words[:, byte].astype(np.uint64)
            value |= part << np.uint64(shift) if shift >= 0 else part >> np.uint64(-shift)
        value &= np.uint64((1 << width) - 1)
        result = value.view(np.int64)
        if sign:
            top = np.int64(1 << (width - 1))
            result = (result ^ top) - top
        out[name] = result
    return out
