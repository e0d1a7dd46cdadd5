"""Models of :class:`amaradar.hdl.waveform.lfm_chirp.LfmChirp`: bit-exact and ideal."""

import numpy as np

from ....hdl.formats import ADC_WIDTH
from ....hdl.waveform.sine_table import (MAX_PHASE_BITS, TABLE_BITS_RANGE, WIDTH_RANGE,
                                         check_frequency, chirp_words, quarter_sine_table)
from ....spec.checks import check_integer

__all__ = ["lfm_chirp", "lfm_chirp_ideal", "nco_lookup"]


def lfm_chirp(*, samples, start_freq, stop_freq, width=ADC_WIDTH, phase_bits=32, table_bits=10):
    """One pulse of the LFM chirp generator, bit for bit.

    Parameters
    ----------
    samples : int
        Samples per pulse, >= 2.
    start_freq, stop_freq : float
        Instantaneous frequency at the first and the last sample, cycles per sample,
        each in [-0.5, 0.5].
    width : int
        Bits per I and Q, 2 ... 32.
    phase_bits : int
        Accumulator bits, ``table_bits + 2`` ... 64.
    table_bits : int
        Quarter-table address bits, 1 ... 16.

    Returns
    -------
    (i, q) : tuple of ndarray of int64, shape (samples,)
        Cosine and sine, in LSBs of a ``width``-bit signed sample; peak
        ``2**(width-1) - 1``.

    Notes
    -----
    The phase word of sample ``n`` is ``n*F + K*n*(n-1)/2`` modulo ``2**phase_bits``
    with ``F, K`` from :func:`amaradar.hdl.waveform.sine_table.chirp_words`; it is looked up
    with :func:`nco_lookup`. The gateware repeats this pulse back to back.
    """
    samples = check_integer("samples", samples, 2)
    start_freq = check_frequency("start_freq", start_freq)
    stop_freq = check_frequency("stop_freq", stop_freq)
    width = check_integer("width", width, *WIDTH_RANGE)
    table_bits = check_integer("table_bits", table_bits, *TABLE_BITS_RANGE)
    phase_bits = check_integer("phase_bits", phase_bits, table_bits + 2, MAX_PHASE_BITS)
    freq_word, rate_word = chirp_words(samples=samples, start_freq=start_freq,
                                       stop_freq=stop_freq, phase_bits=phase_bits)
    mask = np.uint64((1 << phase_bits) - 1)
    # uint64 arithmetic wraps modulo 2**64, a multiple of 2**phase_bits.
    steps = np.arange(samples - 1, dtype=np.uint64)
    freq = np.uint64(freq_word) + np.uint64(rate_word) * steps
    phase = np.concatenate([np.zeros(1, dtype=np.uint64), np.cumsum(freq, dtype=np.uint64)])
    return nco_lookup(phase & mask, phase_bits=phase_bits, table_bits=table_bits, width=width)


def nco_lookup(phase, *, phase_bits, table_bits, width):
    """Cosine and sine of NCO phase words through the quarter-wave table.

    Parameters
    ----------
    phase : array_like of int
        Unsigned phase words, ``phase / 2**phase_bits`` cycles.
    phase_bits, table_bits, width : int
        As for :func:`lfm_chirp`.

    Returns
    -------
    (i, q) : tuple of ndarray of int64
        The looked-up cosine and sine (mapping in :mod:`amaradar.hdl.waveform.sine_table`).
    """
    phase = np.asarray(phase, dtype=np.uint64)
    table = np.array(quarter_sine_table(table_bits=table_bits, width=width), dtype=np.int64)
    quadrant = (phase >> np.uint64(phase_bits - 2)).astype(np.int64) & 3
    address = (phase >> np.uint64(phase_bits - 2 - table_bits)).astype(np.int64)
    address &= (1 << table_bits) - 1
    mirrored = address ^ ((1 << table_bits) - 1)
    odd = (quadrant & 1) == 1
    sine = np.where(odd, table[mirrored], table[address])
    cosine = np.where(odd, table[address], table[mirrored])
    sin_neg = quadrant >= 2
    cos_neg = (quadrant == 1) | (quadrant == 2)
    return np.where(cos_neg, -cosine, cosine), np.where(sin_neg, -sine, sine)


def lfm_chirp_ideal(samples, start_freq, stop_freq):
    """One ideal LFM pulse of unit amplitude.

    Parameters
    ----------
    samples : int
        Samples per pulse.
    start_freq, stop_freq : float
        Instantaneous frequency at the first and the last sample, cycles per sample.

    Returns
    -------
    ndarray of complex128, shape (samples,)
        ``exp(2j*pi*(start_freq*n + rate*n**2/2))``, ``rate = (stop_freq -
        start_freq)/(samples - 1)``: instantaneous frequency ``start_freq + rate*t`` at
        time ``t`` samples, reaching ``stop_freq`` at ``t = samples - 1``.
    """
    n = np.arange(samples, dtype=np.float64)
    rate = (stop_freq - start_freq) / (samples - 1)
    cycles = start_freq * n + rate * n * n / 2
    return np.exp(2j * np.pi * np.mod(cycles, 1.0))
