"""Model of :class:`amaradar.hdl.waveform.gaussian_noise.GaussianNoise`, bit for bit, vectorised.

The generator's bit sequence obeys ``b[n] = b[n-A] ^ b[n-B]`` (``A = 521``,
``B = 489``). Squaring over GF(2) gives ``b[n] = b[n - A*2**e] ^ b[n - B*2**e]`` for
every ``e >= 0``, so once ``A*2**e`` bits are known the next ``B*2**e`` follow from
one vectorised XOR: the whole sequence takes about ``log2(length)`` numpy operations.
"""

import numpy as np

from ....hdl.waveform.gaussian_noise import (LFSR_LENGTH, LFSR_TAP, NOISE_BITS_PER_SAMPLE,
                                             NOISE_SCALE_FRAC, NOISE_SCALE_WIDTH, NOISE_TERM_WIDTH,
                                             NOISE_TERMS, check_seed, lfsr_initial_state)
from ..numerics import shift_right
from ....spec.checks import check_integer

__all__ = ["lfsr_bits", "noise_sums", "gaussian_noise", "noise_variance", "check_scale"]


def lfsr_bits(count, *, seed):
    """The first ``count`` bits ``b[0 .. count-1]`` of the generator's sequence.

    Parameters
    ----------
    count : int
        Number of bits, >= 0.
    seed : int
        ``0 <= seed < 2**32``.

    Returns
    -------
    ndarray of uint8, shape (count,)
        Zeros and ones.
    """
    init = lfsr_initial_state(seed)
    total = max(count, LFSR_LENGTH)
    bits = np.empty(total, dtype=np.uint8)
    bits[:LFSR_LENGTH] = [(init >> n) & 1 for n in range(LFSR_LENGTH)]
    n, power = LFSR_LENGTH, 1
    while n < total:
        while LFSR_LENGTH * 2 * power <= n:
            power *= 2
        far, near = LFSR_LENGTH * power, LFSR_TAP * power
        stop = min(n + near, total)
        bits[n:stop] = bits[n - far:stop - far] ^ bits[n - near:stop - near]
        n = stop
    return bits[:count]


def noise_sums(count, *, seed):
    """The unscaled sums ``u_I``, ``u_Q`` of ``count`` samples (see ``GaussianNoise``).

    Returns
    -------
    (u_i, u_q) : tuple of ndarray of int64, shape (count,)
        Each the sum of 12 signed 8-bit words plus 6: zero mean, variance 65535,
        ``|u| <= 1530``.
    """
    start = LFSR_LENGTH - NOISE_BITS_PER_SAMPLE
    bits = lfsr_bits(start + count * NOISE_BITS_PER_SAMPLE, seed=seed)[start:]
    # NOISE_TERM_WIDTH = 8: one byte per word, least significant bit first, two's complement
    words = np.packbits(bits, bitorder="little").view(np.int8)
    sums = words.reshape(count, 2, NOISE_TERMS).sum(axis=2, dtype=np.int64) + NOISE_TERMS // 2
    return sums[:, 0], sums[:, 1]


def gaussian_noise(count, *, scale, seed=0):
    """``count`` complex noise samples of the gateware, bit for bit.

    Parameters
    ----------
    count : int
        Samples, >= 0.
    scale : int
        ``0 <= scale < 2**16``: rms of I and of Q is ``scale / 256`` LSB before the
        output rounding.
    seed : int
        ``0 <= seed < 2**32``.

    Returns
    -------
    ndarray of complex128, shape (count,)
        Integer real (I) and imaginary (Q) parts, in LSB, ``|part| <= 1530``.
    """
    check_integer("count", count, 0)
    check_scale(scale)
    check_seed(seed)
    u_i, u_q = noise_sums(count, seed=seed)
    shift = NOISE_TERM_WIDTH + NOISE_SCALE_FRAC
    return (shift_right(u_i * scale, shift, "half_even")
            + 1j * shift_right(u_q * scale, shift, "half_even"))


def noise_variance(scale):
    """Variance of I (and of Q) in LSB**2 before the output rounding: exact.

    ``(scale / 2**8)**2 * (4**8 - 1) / 4**8``; the rounding to integers adds about
    ``1/12`` LSB**2 when the rms is a few LSB or more.
    """
    check_scale(scale)
    return (scale / (1 << NOISE_SCALE_FRAC)) ** 2 * (1 - 4.0 ** -NOISE_TERM_WIDTH)


def check_scale(scale, name="scale"):
    """Return ``scale`` after checking ``0 <= scale < 2**16`` (exact messages)."""
    if not isinstance(scale, (int, np.integer)) or isinstance(scale, bool):
        raise TypeError(f"{name} must be an integer, not {scale!r}")
    if not 0 <= scale < 1 << NOISE_SCALE_WIDTH:
        raise ValueError(f"{name} must be between 0 and {(1 << NOISE_SCALE_WIDTH) - 1}, "
                         f"not {scale}")
    return int(scale)
