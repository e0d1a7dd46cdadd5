"""Elaboration-time numbers shared by the transmit waveform generators and their models.

Pure Python, no gateware: the quarter-wave sine table, the quantised NCO words of a
linear-FM chirp, the output amplitude, and the parameter checks, so that
:mod:`amaradar.hdl.lfm_chirp`, :mod:`amaradar.hdl.barker_code` and their numpy twins
in :mod:`amaradar.sim` compute from the same integers and reject the same parameters
with the same messages.

Phase convention
----------------
An NCO phase is an unsigned ``phase_bits`` integer ``p``: ``p / 2**phase_bits``
cycles. Its top 2 bits are the quadrant ``q``, the next ``table_bits`` bits the table
address ``a``, the remaining low bits are dropped (truncated). Entry ``a`` of the
quarter table holds the sine at the *middle* of its bin,
``round_half_even(amplitude * sin(2*pi*(a + 1/2) / 2**(table_bits + 2)))``, so the
looked-up phase is the truncated phase plus half an LSB and the four quadrants mirror
the one table exactly (no entry for 0 or pi/2 is needed)::

    quadrant q   sin                        cos
    0            +T[a]                      +T[~a]
    1            +T[~a]                     -T[a]
    2            -T[a]                      -T[~a]
    3            -T[~a]                     +T[a]

where ``~a = 2**table_bits - 1 - a``: the sine mirrors when ``q`` is odd and is
negative when ``q >= 2``; the cosine is the sine of quadrant ``q + 1``.
"""

import numbers
from fractions import Fraction
from math import pi, sin

__all__ = [
    "WIDTH_RANGE", "TABLE_BITS_RANGE", "MAX_PHASE_BITS",
    "check_frequency", "amplitude", "quarter_sine_table", "chirp_words",
]

WIDTH_RANGE = (2, 32)
TABLE_BITS_RANGE = (1, 16)
MAX_PHASE_BITS = 64


def check_frequency(name, value):
    """Return ``value`` (cycles per sample) as an exact ``Fraction`` in [-1/2, 1/2]."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be a real number of cycles per sample, not {value!r}")
    if not -0.5 <= value <= 0.5:
        raise ValueError(f"{name} must be in [-0.5, 0.5] cycles per sample, not {value!r}")
    return Fraction(value)


def amplitude(width):
    """Peak output value of a ``width``-bit signed waveform: full scale minus one LSB.

    ``2**(width - 1) - 1``, so that both ``+amplitude`` and ``-amplitude`` fit.
    """
    return (1 << (width - 1)) - 1


def quarter_sine_table(*, table_bits, width):
    """The ``2**table_bits`` quarter-wave entries (see the module docstring), as ints.

    Each entry is in ``[0, amplitude(width)]``, so it fits ``unsigned(width - 1)``.
    ``round`` of a float rounds half to even.
    """
    bins = 1 << (table_bits + 2)
    peak = amplitude(width)
    return [round(peak * sin(2 * pi * (a + 0.5) / bins)) for a in range(1 << table_bits)]


def chirp_words(*, samples, start_freq, stop_freq, phase_bits):
    """Quantised frequency and chirp-rate words of an LFM pulse, modulo ``2**phase_bits``.

    The ideal pulse has phase ``start_freq*n + rate*n**2/2`` cycles at sample ``n``,
    ``rate = (stop_freq - start_freq) / samples`` (cycles per sample per sample), so its
    instantaneous frequency sweeps ``start_freq ... stop_freq`` over the pulse. Between
    samples ``n`` and ``n + 1`` the phase advances by ``start_freq + rate*(n + 1/2)``.
    The accumulator therefore starts at phase 0 with frequency word
    ``F = round_half_even((start_freq + rate/2) * 2**phase_bits)`` and adds the rate word
    ``K = round_half_even(rate * 2**phase_bits)`` to the frequency after every sample:
    the phase word of sample ``n`` is ``n*F + K*n*(n-1)/2`` modulo ``2**phase_bits``.
    Both roundings are exact (on the rational value of the float parameters).

    Returns
    -------
    (F, K) : tuple of int
        Both reduced modulo ``2**phase_bits`` (a negative rate wraps).
    """
    rate = (Fraction(stop_freq) - Fraction(start_freq)) / samples
    scale = 1 << phase_bits
    freq_word = round((Fraction(start_freq) + rate / 2) * scale)
    rate_word = round(rate * scale)
    return freq_word % scale, rate_word % scale
