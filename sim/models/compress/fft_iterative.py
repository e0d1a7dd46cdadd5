"""In-place iterative FFT: bit-exact model of ``hdl/fft_iterative.py``.

The core computes the same radix-2^2 decimation-in-frequency transform as
:func:`amaradar.sim.models.compress.fft.fft`, with the same rounding and saturation, one radix-2
butterfly at a time on a memory of ``n`` words. This model does what the core
does, pass by pass on the memory image: stage ``s`` (``s = 0 ... log2(n) - 1``)
has span ``h = n >> (s + 1)`` and combines the words at addresses ``a`` and
``a + h`` for every ``a`` whose bit ``log2(h)`` is clear, writing the sum to ``a``
and the difference to ``a + h``. On odd stages the lower word is first multiplied
by ``-j`` (``+j`` for the inverse) when bit ``log2(h) + 1`` of ``a`` is set, and,
if ``h >= 2``, each result at address ``q`` is then multiplied by the twiddle
``W_n**(n3 * (n/(4h)) * (0, 2, 1, 3)[quarter])`` with ``n3 = q mod h`` and
``quarter = (q // h) mod 4``, read from one table of ``3n/4`` powers of ``W_n``
(:func:`twiddle_table`). The result is read out at bit-reversed addresses.
:func:`fft_iterative` equals :func:`amaradar.sim.models.compress.fft.fft` bit for bit; the tests
check it.
"""

import numpy as np

from ....hdl.compress.fft_tables import bit_reverse, check_fft_parameters, twiddle_table
from .fft import fft_frames
from ..numerics import saturate, shift_right

__all__ = ["twiddle_index", "fft_iterative"]




def twiddle_index(address, n, span):
    """Table index of the twiddle applied at ``address`` after the odd stage of span ``span``."""
    address = np.asarray(address, dtype=np.int64)
    n3 = address % span
    quarter = (address // span) % 4
    return n3 * (n // (4 * span)) * np.array([0, 2, 1, 3])[quarter]


def _stage(mem, stage, *, n, width, table, twiddle_shift, inverse, shift, rounding):
    """One radix-2 pass over the memory image ``mem`` (two int64 arrays, frames x n)."""
    span = n >> (stage + 1)
    address = np.arange(n)
    upper = address[(address & span) == 0]
    lower = upper + span
    a = [part[:, upper] for part in mem]
    b = [part[:, lower] for part in mem]
    flags = []
    if stage % 2:
        rotate = (upper & (2 * span)) != 0
        sign = -1 if inverse else 1
        b = [np.where(rotate, sign * b[1], b[0]), np.where(rotate, -sign * b[0], b[1])]
    for op, where in ((np.add, upper), (np.subtract, lower)):
        for part in range(2):
            value, flag = saturate(shift_right(op(a[part], b[part]), shift, rounding), width)
            mem[part][:, where] = value
            flags.append(flag)
    if stage % 2 and span >= 2:
        t_re, t_im = (part[twiddle_index(address, n, span)] for part in table)
        prods = (mem[0] * t_re - mem[1] * t_im, mem[0] * t_im + mem[1] * t_re)
        for part, value in enumerate(prods):
            mem[part][:], flag = saturate(shift_right(value, twiddle_shift, rounding), width)
            flags.append(flag)
    return flags


def fft_iterative(x, *, n, width, twiddle_width, inverse=False, scaling=None,
                  rounding="half_even", guard_bits=2, bit_reversed=False):
    """Bit-exact model of :class:`amaradar.hdl.compress.fft_iterative.IterativeFFT`.

    Parameters and returns are those of :func:`amaradar.sim.models.compress.fft.fft` (same
    transform, same bits): ``x`` of shape ``(n,)`` or ``(frames, n)``, complex
    integer parts in ``signed(width)``; returns ``(X, overflowed)`` with ``X`` in
    natural bin order unless ``bit_reversed``.
    """
    scaling = check_fft_parameters(n, width, twiddle_width, scaling, rounding, guard_bits)
    re, im, one_d = fft_frames(x, n, width)
    w = width + guard_bits
    mem = [re << guard_bits, im << guard_bits]
    table = twiddle_table(n, twiddle_width=twiddle_width, inverse=inverse)
    flags = []
    stages = n.bit_length() - 1
    for stage in range(stages):
        flags += _stage(mem, stage, n=n, width=w, table=table, twiddle_shift=twiddle_width - 1,
                        inverse=inverse,
                        shift=scaling[stage], rounding=rounding)
    order = np.arange(n) if bit_reversed else bit_reverse(np.arange(n), stages)
    out = []
    for part in mem:
        value, flag = saturate(shift_right(part[:, order], guard_bits, rounding), width)
        out.append(value)
        flags.append(flag)
    overflowed = np.any([f.any(axis=1) for f in flags], axis=0)
    result = out[0] + 1j * out[1]
    if one_d:
        return result[0], bool(overflowed[0])
    return result, overflowed
