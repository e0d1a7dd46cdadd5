"""Radix-2^2 decimation-in-frequency FFT: bit-exact model of ``hdl/fft.py`` and float model.

Complex integer arrays
----------------------
numpy has no complex integer type: a *complex int array* is a ``complex128`` array
whose real and imaginary parts are integers (real integer arrays are accepted too).

Algorithm
---------
``N = 2**n``. The stages are radix-2 decimation-in-frequency butterflies of span
``N/2, N/4, ..., 1``, grouped in pairs (He & Torkelson's radix-2^2). In a pair
working on blocks of ``M`` samples (``M = N, N/4, N/16, ...``) the first butterfly
(span ``M/2``) is plain; the second (span ``M/4``) multiplies its lower input by
``-j`` (``+j`` for the inverse) in the second half of the block; then, if ``M > 4``,
sample ``p = k1*M/2 + k2*M/4 + n3`` of the block is multiplied by the twiddle
``W_M**(n3*(k1 + 2*k2))``, ``W_M = exp(-2j*pi/M)`` (conjugated for the inverse).
When ``n`` is odd a last plain radix-2 butterfly of span 1 follows the pairs. The
result is in bit-reversed order.

Fixed point (the gateware does exactly this)
--------------------------------------------
Internal words have ``w = width + guard_bits`` bits per part; the input enters as
``x * 2**guard_bits``. Each butterfly forms ``a + b`` and ``a - b`` exactly, drops
``scaling[s]`` bits with ``rounding`` and saturates to ``w`` bits. A twiddle is
``round_half_even(W * 2**(twiddle_width-1))`` per part, clamped to
``±(2**(twiddle_width-1) - 1)``; a twiddle product is formed exactly, drops
``twiddle_width - 1`` bits with ``rounding`` and saturates to ``w`` bits. The output
drops the ``guard_bits`` with ``rounding`` and saturates to ``width`` bits. Every
saturation sets the frame's overflow flag.
"""

import numpy as np

from ....hdl.compress.fft_tables import bit_reverse, check_fft_parameters, fft_twiddles
from ..numerics import complex_parts, saturate, shift_right

__all__ = ["fft", "fft_ideal"]











def fft_frames(x, n, width):
    """Check the input of an FFT model; return its parts as (frames, n) int64 arrays.

    Returns ``(re, im, one_d)``, ``one_d`` telling whether ``x`` was one frame of
    shape ``(n,)``. Raises ``ValueError`` for another shape or a part outside
    ``signed(width)``.
    """
    re, im = complex_parts(x, "x")
    one_d = re.ndim == 1
    re, im = np.atleast_2d(re), np.atleast_2d(im)
    if re.ndim != 2 or re.shape[1] != n:
        raise ValueError(f"x must have shape ({n},) or (frames, {n}), not {np.shape(x)}")
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    if re.min(initial=0) < lo or im.min(initial=0) < lo or re.max(initial=0) > hi or im.max(initial=0) > hi:
        raise ValueError(f"x parts must fit signed({width}): {lo} ... {hi}")
    return re, im, one_d


def _butterfly(a, b, shift, w, rounding):
    """``(a + b, a - b)`` of complex pairs, ``shift`` bits dropped, saturated to ``w``."""
    out, ovf = [], []
    for op in (np.add, np.subtract):
        for part in range(2):
            value, flag = saturate(shift_right(op(a[part], b[part]), shift, rounding), w)
            out.append(value)
            ovf.append(flag)
    return (out[0], out[1]), (out[2], out[3]), ovf


def _frame_any(flags):
    """Per-frame OR of a list of (frames, ...) boolean arrays."""
    return np.any([f.reshape(f.shape[0], -1).any(axis=1) for f in flags], axis=0)


def fft(x, *, n, width, twiddle_width, inverse=False, scaling=None, rounding="half_even",
        guard_bits=2, bit_reversed=False):
    """Bit-exact model of :class:`amaradar.hdl.compress.fft.FFT`.

    Parameters
    ----------
    x : array_like of complex int, shape (n,) or (frames, n)
        Input samples, each part in ``signed(width)``.
    n : int
        Transform size, a power of two from 8 to 4096.
    width : int
        Bits per part of the input and of the output.
    twiddle_width : int
        Bits per part of a twiddle factor.
    inverse : bool
        Inverse transform (conjugate twiddles, ``+j`` rotations).
    scaling : sequence of {0, 1}, length log2(n), optional
        Bits dropped after each radix-2 stage, first stage first (default all 1:
        1/2 per stage, 1/n in total).
    rounding : {"half_even", "truncate"}
        How every dropped bit is rounded (see :mod:`amaradar.sim.models.numerics`).
    guard_bits : int
        Extra fraction bits of the internal words.
    bit_reversed : bool
        Return the bins in bit-reversed order (the core's ``bit_reversed=True``).

    Returns
    -------
    X : ndarray of complex128 (integer parts), shape of ``x``
        ``X ≈ 2**-sum(scaling) * np.fft.fft(x)`` for the forward transform and
        ``X ≈ 2**-sum(scaling) * n * np.fft.ifft(x)`` for the inverse, bins in natural
        order (``X[..., k]`` is bin ``k``) unless ``bit_reversed``, when ``X[..., k]``
        is bin ``bit_reverse(k, log2(n))``. The error is the fixed-point round-off
        described in the module docstring.
    overflowed : bool or ndarray of bool, shape (frames,)
        Whether any saturation happened in the frame (the core's sticky
        ``overflow`` is the OR over the frames it has processed).
    """
    scaling = check_fft_parameters(n, width, twiddle_width, scaling, rounding, guard_bits)
    re, im, one_d = fft_frames(x, n, width)
    w = width + guard_bits
    frames = re.shape[0]
    data = (re << guard_bits, im << guard_bits)
    flags = []
    stages = n.bit_length() - 1
    m = n
    for pair in range(stages // 2):
        # First butterfly of the pair: span m/2 over blocks of m.
        a, b = [(p.reshape(frames, -1, 2, m // 2)[:, :, 0], p.reshape(frames, -1, 2, m // 2)[:, :, 1])
                for p in data]
        s, d, ovf = _butterfly((a[0], b[0]), (a[1], b[1]), scaling[2 * pair], w, rounding)
        flags += ovf
        data = [np.stack((s[k], d[k]), axis=2).reshape(frames, n) for k in range(2)]
        # Second butterfly: span m/4; the lower input of the second half-block is
        # multiplied by -j (forward) or +j (inverse) on the way in, exactly.
        shaped = [p.reshape(frames, -1, 2, 2, m // 4) for p in data]
        a = (shaped[0][:, :, :, 0], shaped[1][:, :, :, 0])
        b = [shaped[0][:, :, :, 1].copy(), shaped[1][:, :, :, 1].copy()]
        sign = -1 if inverse else 1
        b_re = b[0][:, :, 1].copy()
        b[0][:, :, 1] = sign * b[1][:, :, 1]
        b[1][:, :, 1] = -sign * b_re
        s, d, ovf = _butterfly(a, tuple(b), scaling[2 * pair + 1], w, rounding)
        flags += ovf
        data = [np.stack((s[k], d[k]), axis=3).reshape(frames, n) for k in range(2)]
        if m > 4:
            t_re, t_im = fft_twiddles(m, twiddle_width=twiddle_width, inverse=inverse)
            t_re, t_im = np.tile(t_re, n // m), np.tile(t_im, n // m)
            prods = (data[0] * t_re - data[1] * t_im, data[0] * t_im + data[1] * t_re)
            data = []
            for value in prods:
                value, flag = saturate(shift_right(value, twiddle_width - 1, rounding), w)
                data.append(value)
                flags.append(flag)
        m //= 4
    if stages % 2:
        a, b = [(p.reshape(frames, -1, 2)[:, :, 0], p.reshape(frames, -1, 2)[:, :, 1]) for p in data]
        s, d, ovf = _butterfly((a[0], b[0]), (a[1], b[1]), scaling[-1], w, rounding)
        flags += ovf
        data = [np.stack((s[k], d[k]), axis=2).reshape(frames, n) for k in range(2)]
    out = []
    for value in data:
        value, flag = saturate(shift_right(value, guard_bits, rounding), width)
        out.append(value)
        flags.append(flag)
    if not bit_reversed:
        order = bit_reverse(np.arange(n), stages)
        out = [value[:, order] for value in out]
    result = out[0] + 1j * out[1]
    overflowed = _frame_any(flags)
    if one_d:
        return result[0], bool(overflowed[0])
    return result, overflowed


def fft_ideal(x, *, scaling=None, inverse=False):
    """Float model: ``2**-sum(scaling) * np.fft.fft(x)`` (or ``n * np.fft.ifft``) per frame.

    ``scaling`` defaults to 1 per stage, i.e. a total factor ``1/n``.
    """
    x = np.asarray(x, dtype=np.complex128)
    n = x.shape[-1]
    total = (n.bit_length() - 1) if scaling is None else sum(scaling)
    spectrum = n * np.fft.ifft(x, axis=-1) if inverse else np.fft.fft(x, axis=-1)
    return spectrum * 2.0**-total
