"""Elaboration-time numbers shared by the transmit waveform generators and their models.

Pure Python, no gateware: the quarter-wave sine table, the quantised NCO words of a
linear-FM chirp, the output amplitude, and the parameter checks, so that
:mod:`amaradar.hdl.waveform.lfm_chirp`, :mod:`amaradar.hdl.waveform.barker_code` and their numpy twins
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

from ...spec.checks import check_integer

__all__ = [
    "WIDTH_RANGE", "TABLE_BITS_RANGE", "MAX_PHASE_BITS",
    "check_frequency", "amplitude", "quarter_sine_table", "chirp_words", "centred_chirp",
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
    ``rate = (stop_freq - start_freq) / (samples - 1)`` (cycles per sample per sample),
    so its instantaneous frequency is ``start_freq`` at sample 0 and ``stop_freq`` at
    sample ``samples - 1``; over the pulse's ``samples`` sample periods it sweeps
    ``samples * |rate|``, its bandwidth. Between samples ``n`` and ``n + 1`` the phase
    advances by ``start_freq + rate*(n + 1/2)``. The accumulator therefore starts at
    phase 0 with frequency word ``F = round_half_even((start_freq + rate/2) *
    2**phase_bits)`` and adds the rate word ``K = round_half_even(rate * 2**phase_bits)``
    to the frequency after every sample: the phase word of sample ``n`` is
    ``n*F + K*n*(n-1)/2`` modulo ``2**phase_bits``. Both roundings are exact (on the
    rational value of the float parameters).

    Returns
    -------
    (F, K) : tuple of int
        Both reduced modulo ``2**phase_bits`` (a negative rate wraps).
    """
    rate = (Fraction(stop_freq) - Fraction(start_freq)) / (samples - 1)
    scale = 1 << phase_bits
    freq_word = round((Fraction(start_freq) + rate / 2) * scale)
    rate_word = round(rate * scale)
    return freq_word % scale, rate_word % scale


def centred_chirp(*, samples, bandwidth, phase_bits):
    """``(start_freq, stop_freq)`` of an up-chirp of ``bandwidth`` whose pulse is
    exactly symmetric in time.

    The phase word of sample ``n``, ``n*F + K*n*(n-1)/2``, equals that of sample
    ``samples - 1 - n`` for every ``n`` exactly when ``F + K*(samples - 2)/2`` is 0
    modulo ``2**phase_bits``. This picks the even rate word ``K`` nearest to
    ``bandwidth / samples`` and ``stop_freq = -start_freq = K*(samples - 1) / 2``
    (in units of ``2**-phase_bits``), for which :func:`chirp_words` gives exactly that
    ``K`` and ``F = -K*(samples - 2)/2``: the pulse's frequency passes through 0 at
    its middle, ``(samples - 1) / 2``. A symmetric pulse gives symmetric
    matched-filter taps, which :class:`amaradar.hdl.compress.matched_filter.MatchedFilter`
    folds onto half the multipliers.

    Parameters
    ----------
    samples : int
        Samples per pulse, >= 2.
    bandwidth : float
        Sweep over the pulse's ``samples`` sample periods, cycles per sample, in [0, 1].
    phase_bits : int
        Accumulator bits of the generator.

    Returns
    -------
    (start_freq, stop_freq) : tuple of float
        Exact binary fractions, within [-0.5, 0.5].
    """
    check_integer("samples", samples, 2)
    if (not isinstance(bandwidth, numbers.Real) or isinstance(bandwidth, bool)
            or not 0 <= bandwidth <= 1):
        raise ValueError(f"bandwidth must be in [0, 1] cycles per sample, not {bandwidth!r}")
    scale = 1 << phase_bits
    rate_word = 2 * round(Fraction(bandwidth) * scale / (2 * samples))
    half = rate_word * (samples - 1) / 2
    return -half / scale, half / scale
