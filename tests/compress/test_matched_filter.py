"""MatchedFilter: model against theory and exact arithmetic, gateware bit-exact to the model."""

from fractions import Fraction

import numpy as np
import pytest
from amaranth.back import rtlil

from amaradar.hdl.formats import complex_layout, framed_layout, pack, unpack
from amaradar.hdl.compress.matched_filter import MatchedFilter
from amaradar.sim.models.compress.matched_filter import (matched_filter, matched_filter_ideal,
                                                         matched_filter_taps, safe_output_shift)

from pulses import centred_lfm, peak_sidelobe_db, quantise
from amaradar.sim.engines.streams import cocotb_stream, simulate_stream, trace_unstalled

BT = 50


# ---------------------------------------------------------------- model vs exact arithmetic

def _exact_reference(x, taps, shift, rounding):
    """Python-int causal convolution per line, shifted with Fractions (round() is half even)."""
    out = []
    for line in np.atleast_2d(x):
        ints = [complex(v) for v in line]
        row = []
        for k in range(len(ints)):
            acc = sum(complex(taps[j]) * ints[k - j] for j in range(min(k + 1, len(taps))))
            parts = [int(acc.real), int(acc.imag)]
            if rounding == "truncate":
                parts = [p >> shift for p in parts]
            else:
                parts = [round(Fraction(p, 1 << shift)) for p in parts]
            row.append(complex(*parts))
        out.append(row)
    return np.array(out).reshape(np.shape(x))


@pytest.mark.parametrize("shift,rounding", [(0, "half_even"), (9, "half_even"), (9, "truncate")])
def test_model_equals_exact_integer_convolution(shift, rounding):
    rng = np.random.default_rng(1)
    taps = rng.integers(-2**15, 2**15, 23) + 1j * rng.integers(-2**15, 2**15, 23)
    x = rng.integers(-2048, 2048, (3, 60)) + 1j * rng.integers(-2048, 2048, (3, 60))
    y, over = matched_filter(x, taps, output_width=53, output_shift=shift, rounding=rounding)
    assert not over
    np.testing.assert_array_equal(y, _exact_reference(x, taps, shift, rounding))
    if shift == 0:  # and the same as numpy's own convolution of the integers
        for line, out in zip(x, y):
            np.testing.assert_array_equal(out, np.convolve(line, taps)[:len(line)])


def test_model_is_fast_for_long_lines():
    import time
    rng = np.random.default_rng(2)
    taps = rng.integers(-2**15, 2**15, 100) + 1j * rng.integers(-2**15, 2**15, 100)
    x = rng.integers(-2048, 2048, 10**6) + 1j * rng.integers(-2048, 2048, 10**6)
    start = time.process_time()
    matched_filter(x, taps, output_width=18, output_shift=safe_output_shift(taps, 12, 18))
    assert time.process_time() - start < 3.0


@pytest.mark.parametrize("rounding", ["half_even", "truncate"])
def test_safe_output_shift_is_the_smallest_that_never_saturates(rounding):
    rng = np.random.default_rng(3)
    taps = rng.integers(-2**15, 2**15, 16) + 1j * rng.integers(-2**15, 2**15, 16)
    shift = safe_output_shift(taps, 12, 18, rounding=rounding)
    # The inputs that drive the real part to its extremes: each sample at a rail
    # chosen by the sign of its taps (the filter sees them time-reversed).
    top = (np.where(taps.real >= 0, 2047, -2048) + 1j * np.where(taps.imag >= 0, -2048, 2047))[::-1]
    bottom = (np.where(taps.real >= 0, -2048, 2047) + 1j * np.where(taps.imag >= 0, 2047, -2048))[::-1]
    worst = np.stack([top, bottom])
    assert not matched_filter(worst, taps, output_width=18, output_shift=shift, rounding=rounding)[1]
    assert matched_filter(worst, taps, output_width=18, output_shift=shift - 1, rounding=rounding)[1]


def test_taps_are_conjugated_reversed_and_scaled():
    pulse = np.array([1 + 2j, -3 + 0.5j, 0.25 - 4j])
    taps = matched_filter_taps(pulse, coef_width=8)
    ideal = np.conj(pulse[::-1]) * 127 / 4
    np.testing.assert_array_equal(taps, np.round(ideal.real) + 1j * np.round(ideal.imag))
    assert max(np.abs(taps.real).max(), np.abs(taps.imag).max()) == 127
    window = np.array([0.5, 1.0, 0.25])
    weighted = matched_filter_taps(pulse, coef_width=8, window=window, quantize=False)
    np.testing.assert_allclose(weighted, np.conj((pulse * window)[::-1]) * 127 / 3)


# ---------------------------------------------------------------- model vs radar theory

@pytest.mark.parametrize("window,low,high", [(None, -0.2, 0.2), ("hamming", 1.30, 1.45)])
def test_compression_gain(window, low, high):
    """Gain from the bit-exact model's noiseless peak: |y|^2 / (sum|h|^2 * mean|x|^2).

    That is output SNR / input SNR for white input noise; 10*log10(N) for N = BT
    pulse samples (fs = B) with rect weighting, less the Hamming loss of 1.34-1.41 dB.
    """
    pulse = centred_lfm(BT, 1)
    weights = None if window is None else np.hamming(len(pulse))
    taps = matched_filter_taps(pulse, coef_width=16, window=weights)
    x = quantise(pulse * 2000)
    y, _ = matched_filter(x, taps, output_width=53, output_shift=0)
    gain = np.abs(y[-1])**2 / (np.sum(np.abs(taps)**2) * np.mean(np.abs(x)**2))
    loss = 10 * np.log10(len(pulse)) - 10 * np.log10(gain)
    assert low <= loss <= high


@pytest.mark.parametrize("window,theory", [(None, -13.5), ("hamming", -36.5)])
def test_peak_sidelobe_ratio(window, theory):
    """PSL at BT=50, fs = 4B (at fs = B the samples straddle the sidelobes and the
    spectrum aliases: -23.4 dB sampled, -12.6 dB interpolated)."""
    pulse = centred_lfm(BT, 4)
    weights = None if window is None else np.hamming(len(pulse))
    taps = matched_filter_taps(pulse, coef_width=16, window=weights)
    shift = safe_output_shift(taps, 12, 18)
    line = np.zeros(4 * len(pulse), dtype=complex)
    line[len(pulse):2 * len(pulse)] = pulse
    fixed, over = matched_filter(quantise(2000 * line), taps, output_width=18, output_shift=shift)
    ideal = matched_filter_ideal(line, matched_filter_taps(pulse, coef_width=16, window=weights,
                                                           quantize=False))
    assert not over
    assert abs(peak_sidelobe_db(ideal) - theory) < 0.3
    assert abs(peak_sidelobe_db(fixed) - peak_sidelobe_db(ideal)) < 0.5


def _fixed_point_loss_db(extra_shift, rounding, lines=256, chunks=4):
    """SNR loss of the bit-exact model against the float model, same quantised input.

    Target (amplitude 200 LSB) + complex Gaussian noise of 4 LSB rms per part; the
    SNR is |mean peak|^2 / mean |noise-only output|^2 over the lines. Returns the
    loss per chunk of lines (dB) and the output noise (LSB rms, complex).
    """
    rng = np.random.default_rng(5)
    pulse = centred_lfm(BT, 1)
    taps = matched_filter_taps(pulse, coef_width=16)
    ideal = matched_filter_taps(pulse, coef_width=16, quantize=False)
    shift = safe_output_shift(taps, 12, 18) + extra_shift
    n, pos, length = len(pulse), 100, 400
    x = np.zeros((lines, length), dtype=complex)
    x[:, pos:pos + n] = quantise(200 * pulse)
    x = quantise(x + 4 * (rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape)))
    fixed, over = matched_filter(x, taps, output_width=18, output_shift=shift, rounding=rounding)
    assert not over
    floating = matched_filter_ideal(x, ideal, output_shift=shift)
    losses = []
    for part in range(chunks):
        rows = slice(part * lines // chunks, (part + 1) * lines // chunks)
        snr = [np.abs(y[rows, pos + n - 1].mean())**2 / np.mean(np.abs(y[rows, pos + 2 * n:])**2)
               for y in (fixed, floating)]
        losses.append(10 * np.log10(snr[1] / snr[0]))
    return np.array(losses), np.sqrt(np.mean(np.abs(floating[:, pos + 2 * n:])**2))


@pytest.mark.parametrize("extra_shift,rounding", [(0, "half_even"), (0, "truncate"), (3, "half_even")])
def test_fixed_point_loss_small_when_noise_spans_lsbs(extra_shift, rounding):
    losses, noise = _fixed_point_loss_db(extra_shift, rounding)
    assert noise >= 4  # output noise >= 4 LSB rms (40 at the safe shift, 5 with 3 bits more)
    assert losses.std() < 0.02  # the estimate's own spread, well under the 0.1 dB bound
    assert losses.mean() <= 0.1


def test_fixed_point_loss_shows_when_noise_is_about_one_lsb():
    losses, noise = _fixed_point_loss_db(5, "half_even")
    assert noise < 1.5
    assert losses.mean() > 0.2


# ---------------------------------------------------------------- parameters

@pytest.mark.parametrize("kwargs,error,message", [
    ({"taps": []}, TypeError,
     "taps must be a non-empty 1-D sequence of complex integers, not []"),
    ({"taps": [1, 0.5j]}, ValueError,
     "taps must have integer real and imaginary parts; taps[1] is 0.5j"),
    ({"taps": [3, 40000 - 1j]}, ValueError,
     "taps[1] = (40000-1j) does not fit coef_width=16 signed bits (-32768 ... 32767)"),
    ({"taps": [1], "input_width": 0}, TypeError, "input_width must be a positive integer, not 0"),
    ({"taps": [1], "coef_width": 1.5}, TypeError, "coef_width must be a positive integer, not 1.5"),
    ({"taps": [1], "output_width": None}, TypeError,
     "output_width must be a positive integer, not None"),
    ({"taps": [1, 2, 3], "output_shift": 31}, ValueError,
     "output_shift must be between 0 and 30, not 31"),
    ({"taps": [1], "output_shift": -1}, ValueError,
     "output_shift must be between 0 and 28, not -1"),
    ({"taps": [1], "rounding": "up"}, ValueError,
     "rounding must be one of ('truncate', 'half_even'), not 'up'"),
    ({"taps": [1], "round_stage": 1}, TypeError, "round_stage must be True or False, not 1"),
])
def test_parameter_errors(kwargs, error, message):
    with pytest.raises(error) as info:
        MatchedFilter(**kwargs)
    assert str(info.value) == message


# ---------------------------------------------------------------- gateware

IN = framed_layout(complex_layout(12))
OUT = framed_layout(complex_layout(18))


def _lines_stimulus(rng, lengths, taps, shift, rounding="half_even"):
    """Full-scale random range lines; returns input words and the expected output words."""
    lines = [rng.integers(-2048, 2048, n) + 1j * rng.integers(-2048, 2048, n) for n in lengths]
    x = np.concatenate(lines)
    first = np.concatenate([np.arange(n) == 0 for n in lengths]).astype(int)
    last = np.concatenate([np.arange(n) == n - 1 for n in lengths]).astype(int)
    cpi_end = last * (np.cumsum(last) % 3 == 0)
    y = np.concatenate([matched_filter(line, taps, output_width=18, output_shift=shift,
                                       rounding=rounding)[0] for line in lines])
    flags = {"first": first, "last": last, "cpi_end": cpi_end}
    words = pack(IN, **{"data.i": x.real, "data.q": x.imag}, **flags)
    expected = pack(OUT, **{"data.i": y.real, "data.q": y.imag}, **flags)
    return words, expected


def _random_taps(rng, count, symmetric=False):
    """``count`` random full-scale taps; ``symmetric``: reading the same backwards."""
    taps = rng.integers(-2**15, 2**15, count) + 1j * rng.integers(-2**15, 2**15, count)
    if symmetric:
        taps[count - count // 2:] = taps[:count // 2][::-1]
    return taps


@pytest.mark.parametrize("count,symmetric,lengths,rounding,p_stall,round_stage", [
    (5, False, [7, 1, 3, 30, 12], "half_even", 0.3, False),
    (5, False, [20, 9], "truncate", 0.0, False),
    (16, False, [40, 17, 5, 60], "half_even", 0.5, False),
    (16, True, [40, 17, 5, 60], "half_even", 0.4, False),    # folded: 8 pairs
    (7, True, [2, 30, 1, 13], "truncate", 0.5, False),       # folded: 3 pairs and the middle tap
    (1, True, [4, 1, 6], "half_even", 0.3, False),           # one tap: only a middle tap
    (16, True, [40, 17, 5, 60], "half_even", 0.5, True),     # rounding in its own register
    (5, False, [7, 1, 3, 30, 12], "truncate", 0.3, True),
])
def test_gateware_bit_exact_with_stalls(count, symmetric, lengths, rounding, p_stall, round_stage):
    rng = np.random.default_rng(count + len(lengths))
    taps = _random_taps(rng, count, symmetric)
    assert np.array_equal(taps, taps[::-1]) == (symmetric or count == 1)
    shift = safe_output_shift(taps, 12, 18, rounding=rounding) - 2  # some outputs saturate
    words, expected = _lines_stimulus(rng, lengths, taps, shift, rounding)
    dut = MatchedFilter(taps=taps, output_shift=shift, rounding=rounding, round_stage=round_stage)
    out = simulate_stream(dut, words, len(words), p_in_stall=p_stall, p_out_stall=p_stall, seed=7)
    assert out == expected
    # Lines longer than the filter end with a nonzero tail that the next line must not see.
    assert np.any(unpack(OUT, out)["data.i"] != 0)


@pytest.mark.parametrize("taps", [
    [1, 1, 1, 1, 1, -1, -1, 1, 1, -1, 1, -1, 1],       # Barker-13
    [4 - 2j, -1 + 8j, 0, -16j, 2],                     # powers of two of either sign, zeros
    [4 - 2j, -1 + 8j, 2, -1 + 8j, 4 - 2j],             # folded
])
def test_shift_taps_bit_exact_with_stalls_and_no_multiplier(taps):
    """Taps of 0 and +-2**k: shifts, the product stages retimed after the adder tree."""
    rng = np.random.default_rng(len(taps))
    shift = safe_output_shift(taps, 12, 18)
    words, expected = _lines_stimulus(rng, [30, 1, 13, 40, 2], taps, shift)
    dut = MatchedFilter(taps=taps, coef_width=6, output_shift=shift)
    out = simulate_stream(dut, words, len(words), p_in_stall=0.4, p_out_stall=0.4, seed=3)
    assert out == expected
    assert "cell $mul " not in rtlil.convert(dut)


@pytest.mark.parametrize("count, round_stage", [(1, False), (5, False), (16, False), (16, True)])
def test_latency_attribute(count, round_stage):
    dut = MatchedFilter(taps=[1] * count, round_stage=round_stage)
    trace = trace_unstalled(dut, pack(IN, **{"data.i": [5], "first": [1], "last": [1]}), 30)
    # ``sample`` reads the values that an edge sees: the word accepted at edge 0 is
    # transferred out at edge ``latency``.
    assert [valid for _, valid, _ in trace].index(1) == dut.latency


def test_overflow_is_sticky_and_set_only_by_saturation():
    taps = [32767 - 32768j] * 4
    safe = safe_output_shift(taps, 12, 18)
    x = np.full(12, -2048 - 2048j)
    words = pack(IN, **{"data.i": x.real, "data.q": x.imag, "first": np.arange(12) == 0})
    assert not any(over for _, _, over in trace_unstalled(
        MatchedFilter(taps=taps, output_shift=safe), words, 40))
    dut = MatchedFilter(taps=taps, output_shift=safe - 2)
    trace = trace_unstalled(dut, words, 40)
    # The first output (one tap's worth) fits 18 bits at this shift; the second does not.
    assert not matched_filter(x[:1], taps, output_width=18, output_shift=safe - 2)[1]
    assert matched_filter(x[:2], taps, output_width=18, output_shift=safe - 2)[1]
    rise = [over for _, _, over in trace].index(1)
    assert rise == dut.latency + 1  # rises with the second output being offered
    assert all(over for _, _, over in trace[rise:])  # sticky after the input has ended


@pytest.mark.parametrize("name, pulse", [
    ("32", centred_lfm(BT, 1)[5:37]),       # off-centre slice of the chirp: taps not symmetric
    ("folded_31", np.exp(1j * np.pi * (np.arange(31) - 15) ** 2 / 31)),  # centred: folded
    ("folded_31_round_stage", np.exp(1j * np.pi * (np.arange(31) - 15) ** 2 / 31)),
])
def test_gateware_cocotb(name, pulse):
    rng = np.random.default_rng(11)
    taps = matched_filter_taps(pulse, coef_width=16, window=np.hamming(len(pulse)))
    assert np.array_equal(taps, taps[::-1]) == name.startswith("folded")
    shift = safe_output_shift(taps, 12, 18) - 1
    words, expected = _lines_stimulus(rng, [700, 130, 1, 1000, 99, 400], taps, shift)
    dut = MatchedFilter(taps=taps, output_shift=shift, round_stage=name.endswith("round_stage"))
    out = cocotb_stream(dut, f"matched_filter_{name}", words, len(words), seed=12)
    assert out == expected


@pytest.mark.parametrize("taps, multipliers", [
    ([1 + 2j, 3 - 1j, 5 + 5j, 3 - 1j, 1 + 2j], 4 * 3),     # folded: 2 pairs + middle tap
    ([1 + 2j, 3 - 1j, 3 - 1j, 1 + 2j], 4 * 2),              # folded: 2 pairs
    ([1 + 2j, 3 - 1j, 3 - 1j, 1 + 3j], 4 * 4),              # not symmetric: one per tap
])
def test_multipliers_in_netlist(taps, multipliers):
    # Symmetric taps share one multiplier input per pair of samples, halving the
    # products; the count is read from the design's RTLIL ($mul cells).
    dut = MatchedFilter(taps=taps)
    assert rtlil.convert(dut).count("cell $mul ") == multipliers
