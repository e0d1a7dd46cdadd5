# amaranth: UnusedElaboratable=no

import numpy as np
import pytest

from amaradar.hdl.formats import complex_layout, framed_layout, unpack
from amaradar.hdl.waveform.lfm_chirp import LfmChirp
from amaradar.hdl.waveform.sine_table import amplitude, centred_chirp, chirp_words, quarter_sine_table
from amaradar.sim.models.waveform.lfm_chirp import lfm_chirp, lfm_chirp_ideal, nco_lookup

from amaradar.sim.engines.streams import cocotb_stream, simulate_stream


def _phase_bound(samples, phase_bits, table_bits):
    """Worst |looked-up phase - ideal phase| in cycles, per sample.

    Half a table bin (the table holds the bin centre), plus the accumulated error of
    the rounded words: phase n*F + K*n*(n-1)/2 with |dF|, |dK| <= 2**-(phase_bits+1).
    """
    n = np.arange(samples, dtype=np.float64)
    return 2.0 ** -(table_bits + 3) + (n / 2 + n * (n - 1) / 4) * 2.0 ** -phase_bits


# (samples, start_freq, stop_freq, width, phase_bits, table_bits)
MODEL_CASES = [
    (1000, -0.2, 0.3, 12, 32, 10),
    (4096, 0.45, -0.45, 12, 32, 10),
    (4096, -0.5, 0.5, 16, 48, 12),
    (300, 0.1, -0.3, 10, 20, 6),
    (64, 0.5, -0.5, 12, 32, 10),
    (2, 0.125, 0.125, 8, 8, 3),
]


@pytest.mark.parametrize("samples, start, stop, width, phase_bits, table_bits", MODEL_CASES)
def test_model_within_quantisation_bound_of_ideal(samples, start, stop, width, phase_bits,
                                                   table_bits):
    # Per component: 0.5 LSB table rounding + slope 2*pi*A per cycle of phase error.
    i, q = lfm_chirp(samples=samples, start_freq=start, stop_freq=stop, width=width,
                     phase_bits=phase_bits, table_bits=table_bits)
    peak = amplitude(width)
    ideal = peak * lfm_chirp_ideal(samples, start, stop)
    bound = 0.5 + 2 * np.pi * peak * _phase_bound(samples, phase_bits, table_bits)
    assert i.dtype == q.dtype == np.int64
    assert np.abs(i).max() <= peak and np.abs(q).max() <= peak
    assert np.all(np.abs(i - ideal.real) <= bound)
    assert np.all(np.abs(q - ideal.imag) <= bound)


@pytest.mark.parametrize("width, table_bits", [(12, 10), (16, 8), (10, 4)])
def test_model_rms_error_matches_uniform_phase_and_amplitude_quantisation(width, table_bits):
    # Generic (irrational-looking) frequencies equidistribute the truncated phase, and
    # 48 phase bits make the word error negligible. Looked-up phase error uniform over
    # a bin of D = 2**-(table_bits+2) cycles and centred (the half-bin offset): per
    # component variance (2*pi*A*D)**2/24, plus 1/12 LSB**2 of table rounding. A table
    # without the half-bin offset would add a mean phase error of D/2 and fail this.
    samples, start, stop = 8000, -0.2137, 0.3141
    i, q = lfm_chirp(samples=samples, start_freq=start, stop_freq=stop, width=width,
                     phase_bits=48, table_bits=table_bits)
    peak = amplitude(width)
    ideal = peak * lfm_chirp_ideal(samples, start, stop)
    rms = np.sqrt(np.mean(((i - ideal.real) ** 2 + (q - ideal.imag) ** 2) / 2))
    theory = np.sqrt((2 * np.pi * peak * 2.0 ** -(table_bits + 2)) ** 2 / 24 + 1 / 12)
    assert 0.9 * theory <= rms <= 1.1 * theory


@pytest.mark.parametrize("width, table_bits", [(12, 10), (8, 3)])
def test_quadrant_mapping_equals_rounded_bin_centres(width, table_bits):
    # Every one of the 2**(table_bits+2) phase bins maps to round(A*exp(2j*pi*centre)).
    bins = 1 << (table_bits + 2)
    phase_bits = table_bits + 5
    phase = (np.arange(bins, dtype=np.uint64) << np.uint64(3)) + np.uint64(5)  # inside bin
    i, q = nco_lookup(phase, phase_bits=phase_bits, table_bits=table_bits, width=width)
    centre = 2 * np.pi * (np.arange(bins) + 0.5) / bins
    peak = amplitude(width)
    np.testing.assert_array_equal(i, np.round(peak * np.cos(centre)))
    np.testing.assert_array_equal(q, np.round(peak * np.sin(centre)))
    table = quarter_sine_table(table_bits=table_bits, width=width)
    assert min(table) >= 0 and max(table) <= peak and table == sorted(table)


@pytest.mark.parametrize("samples, start, stop", [(4096, -0.1, 0.3), (4096, 0.3, -0.1),
                                                   (1024, 0.45, -0.4)])
def test_instantaneous_frequency_sweeps_start_to_stop(samples, start, stop):
    # Phase difference of consecutive samples = frequency at t = n + 1/2: it must be
    # start + rate*(n + 1/2) within twice the worst phase error (looked-up phase bound
    # plus the angle of a rounding error of |e| <= sqrt(2)/2 LSB on a radius-A vector).
    width, phase_bits, table_bits = 12, 32, 10
    i, q = lfm_chirp(samples=samples, start_freq=start, stop_freq=stop, width=width,
                     phase_bits=phase_bits, table_bits=table_bits)
    inst = np.diff(np.unwrap(np.angle(i + 1j * q))) / (2 * np.pi)
    rate = (stop - start) / (samples - 1)
    expected = start + rate * (np.arange(samples - 1) + 0.5)
    peak = amplitude(width)
    angle = _phase_bound(samples, phase_bits, table_bits) + np.arcsin(
        np.sqrt(0.5) / (peak - 1)) / (2 * np.pi)
    tolerance = angle[1:] + angle[:-1]
    assert np.all(np.abs(inst - expected) <= tolerance)
    # The ends: the first difference sits at t = 1/2, the last at t = samples - 3/2,
    # half a sample from the first and last samples where the frequency is start, stop.
    assert abs(inst[0] - start) <= abs(rate) / 2 + tolerance[0]
    assert abs(inst[-1] - stop) <= abs(rate) / 2 + tolerance[-1]


@pytest.mark.parametrize("samples, start, stop", [(4096, -0.1, 0.3), (4096, 0.3, -0.1),
                                                   (2048, -0.25, 0.25), (1024, 0.4, -0.45)])
def test_spectrum_occupies_start_to_stop(samples, start, stop):
    # Stationary phase: each sample stands for half a sample period either side, so
    # the LFM spectrum is flat over [start, stop] widened by rate/2 at each end (the
    # bandwidth samples*|rate|) and falls through -6 dB (half amplitude, a Fresnel
    # edge) at each band edge; the edge
    # ripple has the scale sqrt(|rate|). Asserted: the outermost -6 dB crossings lie
    # within 0.25*sqrt(|rate|) of the edges, and 99 % of the power fits in 0.99 B +- 1 %
    # (a flat spectrum puts 99 % of its power in 99 % of its band).
    i, q = lfm_chirp(samples=samples, start_freq=start, stop_freq=stop)
    pad = 8 * samples
    power = np.fft.fftshift(np.abs(np.fft.fft(i + 1j * q, pad)) ** 2)
    freq = np.fft.fftshift(np.fft.fftfreq(pad))
    rate = abs(stop - start) / (samples - 1)
    low, high = min(start, stop) - rate / 2, max(start, stop) + rate / 2
    scale = np.sqrt(rate)
    inside = (freq > low + 5 * scale) & (freq < high - 5 * scale)
    over = np.nonzero(power >= power[inside].mean() / 4)[0]
    assert abs(freq[over[0]] - low) <= 0.25 * scale
    assert abs(freq[over[-1]] - high) <= 0.25 * scale
    cumulative = np.cumsum(power) / power.sum()
    band99 = freq[np.searchsorted(cumulative, 0.995)] - freq[np.searchsorted(cumulative, 0.005)]
    assert abs(band99 / (high - low) - 0.99) <= 0.01


@pytest.mark.parametrize("freq_word", [1, 4667, 30001])
@pytest.mark.parametrize("width", [12, 16])
def test_tone_spur_level(freq_word, width):
    # A constant tone (start == stop) with an odd frequency word over 2**phase_bits
    # samples: the phase sequence is exactly periodic, so the FFT has no leakage and
    # every bin but the carrier's is a spur. The P = table_bits + 2 looked-up phase
    # bits leave a sawtooth phase error of one bin D = 2**-P cycles peak to peak, whose
    # fundamental (the worst case for an odd word) gives a spur of D*x/sin(x),
    # x = pi*2**-(phase_bits - P), relative to the carrier, to first order. Second
    # order adds at most (pi*D)**2/2, amplitude rounding at most sqrt(1/6)/A (its
    # whole rms error in one spur). Asserted: worst spur within those margins of D.
    phase_bits, table_bits = 16, 6
    freq = freq_word / 2 ** phase_bits
    i, q = lfm_chirp(samples=2 ** phase_bits, start_freq=freq, stop_freq=freq, width=width,
                     phase_bits=phase_bits, table_bits=table_bits)
    spectrum = np.abs(np.fft.fft(i + 1j * q))
    carrier = spectrum[freq_word]
    spectrum[freq_word] = 0
    worst = spectrum.max() / carrier
    d = 2.0 ** -(table_bits + 2)
    x = np.pi * 2.0 ** -(phase_bits - table_bits - 2)
    first = d * x / np.sin(x)
    margin = (np.pi * d) ** 2 / 2 + np.sqrt(1 / 6) / amplitude(width)
    assert first - margin <= worst <= first + margin
    assert 20 * np.log10(worst) <= -6.02 * (table_bits + 2) + 0.5


def test_chirp_words_round_half_even():
    # rate = 1/4 / (3 - 1) = 1/8 cycles; F = (0 + 1/16) * 2**3 = 0.5 -> 0, K = 1/8 * 8 = 1.
    assert chirp_words(samples=3, start_freq=0, stop_freq=0.25, phase_bits=3) == (0, 1)
    # F = (3/16 + 1/32) * 8 = 1.75 -> 2; K = 1/16 * 8 = 0.5 -> 0.
    assert chirp_words(samples=3, start_freq=0.1875, stop_freq=0.3125, phase_bits=3) == (2, 0)
    # A negative rate wraps modulo 2**phase_bits: rate = -1/4, F = 1/8 * 16 = 2,
    # K = -1/4 * 16 = -4 -> 12; and rate = -1/64, F = (-7/16 - 1/128) * 16 = -7.125
    # -> -7 -> 9, K = -1/4 -> 0.
    assert chirp_words(samples=3, start_freq=0.25, stop_freq=-0.25, phase_bits=4) == (2, 12)
    assert chirp_words(samples=5, start_freq=-0.4375, stop_freq=-0.5, phase_bits=4) == (9, 0)


@pytest.mark.parametrize("samples, bandwidth, phase_bits", [
    (100, 0.5, 32), (30, 1.0, 32), (101, 0.7, 32), (2, 1.0, 16), (13, 0.01, 24), (4096, 1.0, 48)])
def test_centred_chirp_is_symmetric_with_the_bandwidth_asked(samples, bandwidth, phase_bits):
    # The pulse reads the same backwards, sample for sample, and sweeps the bandwidth
    # asked for to within the even rate word's rounding (one word per sample).
    start, stop = centred_chirp(samples=samples, bandwidth=bandwidth, phase_bits=phase_bits)
    assert -0.5 <= start == -stop <= 0
    freq_word, rate_word = chirp_words(samples=samples, start_freq=start, stop_freq=stop,
                                       phase_bits=phase_bits)
    assert rate_word % 2 == 0
    assert abs(rate_word * samples * 2.0 ** -phase_bits - bandwidth) <= samples * 2.0 ** -phase_bits
    i, q = lfm_chirp(samples=samples, start_freq=start, stop_freq=stop, phase_bits=phase_bits,
                     table_bits=min(10, phase_bits - 2))
    np.testing.assert_array_equal(i, i[::-1])
    np.testing.assert_array_equal(q, q[::-1])


@pytest.mark.parametrize("kwargs, message", [
    ({"bandwidth": 1.5}, "bandwidth must be in [0, 1] cycles per sample, not 1.5"),
    ({"bandwidth": "0.5"}, "bandwidth must be in [0, 1] cycles per sample, not '0.5'"),
    ({"samples": 1}, "samples must be >= 2, not 1"),
])
def test_centred_chirp_parameter_errors(kwargs, message):
    with pytest.raises(ValueError) as info:
        centred_chirp(**{"samples": 16, "bandwidth": 0.5, "phase_bits": 32, **kwargs})
    assert str(info.value) == message


# (name, samples, start_freq, stop_freq, width, phase_bits, table_bits)
HDL_CASES = [
    ("up", 40, -0.25, 0.35, 12, 32, 10),
    ("down", 33, 0.5, -0.5, 8, 20, 5),
]


def _check_pulses(words, params, count):
    samples, start, stop, width, phase_bits, table_bits = params
    i, q = lfm_chirp(samples=samples, start_freq=start, stop_freq=stop, width=width,
                     phase_bits=phase_bits, table_bits=table_bits)
    got = unpack(framed_layout(complex_layout(width)), words)
    reps = -(-count // samples)
    k = np.arange(count) % samples
    np.testing.assert_array_equal(got["data.i"], np.tile(i, reps)[:count])
    np.testing.assert_array_equal(got["data.q"], np.tile(q, reps)[:count])
    np.testing.assert_array_equal(got["first"], k == 0)
    np.testing.assert_array_equal(got["last"], k == samples - 1)
    assert not got["cpi_end"].any()


def _dut(params):
    samples, start, stop, width, phase_bits, table_bits = params
    return LfmChirp(samples=samples, start_freq=start, stop_freq=stop, width=width,
                    phase_bits=phase_bits, table_bits=table_bits)


@pytest.mark.parametrize("p_stall", [0.0, 0.4, 0.8])
@pytest.mark.parametrize("case", HDL_CASES, ids=[c[0] for c in HDL_CASES])
def test_gateware_matches_model(case, p_stall):
    params = case[1:]
    count = 3 * params[0] + 7
    words = simulate_stream(_dut(params), None, count, p_out_stall=p_stall, seed=len(case[0]))
    _check_pulses(words, params, count)


@pytest.mark.parametrize("case", HDL_CASES, ids=[c[0] for c in HDL_CASES])
def test_gateware_cocotb(case):
    params = case[1:]
    count = 4 * params[0] + 3
    words = cocotb_stream(_dut(params), f"lfm_chirp_{case[0]}", None, count, p_out_stall=0.4,
                          seed=5)
    _check_pulses(words, params, count)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"samples": 1}, ValueError, "samples must be >= 2, not 1"),
    ({"samples": 8.0}, TypeError, "samples must be an integer, not 8.0"),
    ({"samples": True}, TypeError, "samples must be an integer, not True"),
    ({"start_freq": 0.6}, ValueError,
     "start_freq must be in [-0.5, 0.5] cycles per sample, not 0.6"),
    ({"stop_freq": float("nan")}, ValueError,
     "stop_freq must be in [-0.5, 0.5] cycles per sample, not nan"),
    ({"stop_freq": "0.1"}, TypeError,
     "stop_freq must be a real number of cycles per sample, not '0.1'"),
    ({"width": 1}, ValueError, "width must be between 2 and 32, not 1"),
    ({"width": 33}, ValueError, "width must be between 2 and 32, not 33"),
    ({"table_bits": 0}, ValueError, "table_bits must be between 1 and 16, not 0"),
    ({"table_bits": 17}, ValueError, "table_bits must be between 1 and 16, not 17"),
    ({"phase_bits": 11}, ValueError, "phase_bits must be between 12 and 64, not 11"),
    ({"phase_bits": 65}, ValueError, "phase_bits must be between 12 and 64, not 65"),
    ({"phase_bits": None}, TypeError, "phase_bits must be an integer, not None"),
])
@pytest.mark.parametrize("build", [LfmChirp, lfm_chirp], ids=["hdl", "model"])
def test_parameter_errors(build, kwargs, error, message):
    params = {"samples": 16, "start_freq": -0.1, "stop_freq": 0.1, **kwargs}
    with pytest.raises(error) as info:
        build(**params)
    assert str(info.value) == message
