"""Doppler filter: the model against a brute-force window stage and the FFT model,
against the float model (which uses fftshift: this checks the (-1)**m trick) and
against theory (bin of a tone, coherent gain, Hamming loss and sidelobes); the
gateware bit-exact to the model under random stalls in Amaranth sim and in
cocotb + Verilator; latency, flags, parameter errors."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from amaradar.hdl.doppler.doppler_filter import DopplerFilter
from amaradar.hdl.formats import complex_layout, framed_layout, pack, unpack
from amaradar.sim.engines.streams import cocotb_stream, simulate_stream, trace_unstalled
from amaradar.sim.models.compress.fft import fft
from amaradar.sim.models.compress.windows import window
from amaradar.sim.models.doppler.doppler_filter import (
    doppler_bin, doppler_filter, doppler_filter_ideal, doppler_frequencies, doppler_window)


def gaussian(rng, shape, rms):
    return np.round(rng.normal(0, rms, shape)) + 1j * np.round(rng.normal(0, rms, shape))


def tones(frequencies, pulses, amplitude, prf=1.0):
    """Quantised tones ``A exp(2j pi f m / PRF)``, one line per frequency."""
    x = amplitude * np.exp(2j * np.pi * np.outer(frequencies, np.arange(pulses)) / prf)
    return np.round(x.real) + 1j * np.round(x.imag)


def lines_of(rng, lines, pulses, width):
    """Noise plus a tone of random frequency per line, clipped to ``signed(width)``."""
    x = gaussian(rng, (lines, pulses), 2 ** (width - 4)) + tones(rng.random(lines), pulses,
                                                                2 ** (width - 2))
    return clip(x, width)


def clip(x, width):
    """Each part of ``x`` clipped to ``signed(width)``."""
    top = 2 ** (width - 1)
    return np.clip(x.real, -top, top - 1) + 1j * np.clip(x.imag, -top, top - 1)


def round_half_even(numerator, shift):
    """``numerator / 2**shift`` rounded half to even, in Python integers."""
    if shift <= 0:
        return numerator << -shift
    floor, rest = numerator >> shift, numerator & ((1 << shift) - 1)
    half = 1 << (shift - 1)
    return floor + (rest > half or (rest == half and floor & 1))


# ---------------------------------------------------------------- model

@pytest.mark.parametrize("pulses, width, coef_width, output_width", [
    (8, 12, 16, 12), (16, 16, 16, 20), (32, 10, 8, 18), (8, 16, 18, 12)])
def test_model_is_window_stage_then_fft_model(pulses, width, coef_width, output_width):
    # The window stage written out in Python integers (sign folded into odd pulses,
    # round half to even, saturate), then the FFT model: the same bits and flags.
    rng = np.random.default_rng(pulses + width)
    words = doppler_window("hann", pulses, coef_width=coef_width)
    words[1] = 2 ** (coef_width - 1) - 1                # the largest word on a negated pulse
    x = clip(gaussian(rng, (6, pulses), 2 ** (width - 3)), width)
    x[0, 1::2] = -2 ** (width - 1)                    # full scale on the negated pulses
    top = 2 ** (output_width - 1)
    shift = coef_width - 1 - (output_width - width)
    windowed, saturated = np.zeros_like(x), np.zeros(len(x), dtype=bool)
    for line in range(len(x)):
        for m in range(pulses):
            c = int(words[m]) * (-1) ** m
            for part in (1, 1j):
                value = round_half_even(int(getattr(x[line, m], "real" if part == 1 else "imag"))
                                        * c, shift)
                saturated[line] |= not -top <= value < top
                windowed[line, m] += part * min(max(value, -top), top - 1)
    want, fft_flags = fft(windowed, n=pulses, width=output_width, twiddle_width=16)
    got, flags = doppler_filter(x, pulses=pulses, width=width, window=words,
                                coef_width=coef_width, output_width=output_width)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(flags, saturated | fft_flags)
    assert saturated[0] == (coef_width > output_width) and not flags[1:].any()
    one, flag = doppler_filter(x[2], pulses=pulses, width=width, window=words,
                               coef_width=coef_width, output_width=output_width)
    np.testing.assert_array_equal(one, got[2])
    assert flag is False


@pytest.mark.parametrize("pulses", [8, 16, 64, 256])
def test_model_equals_fftshifted_float_model(pulses):
    # The float model is fftshift(fft(x * w)); the gateware's order comes from the
    # (-1)**m in the window words. 16-bit data, window and twiddles: the deviation
    # is round-off only (window stage, FFT stages, output), measured at most 1.2
    # LSB.
    rng = np.random.default_rng(pulses)
    words = doppler_window("hamming", pulses)
    x = clip(gaussian(rng, (200, pulses), 2 ** 13), 16)
    got, flags = doppler_filter(x, pulses=pulses, width=16, window=words)
    ideal = doppler_filter_ideal(x, window=words / (2 ** 15 - 1), width=16)
    error = np.abs(got - ideal)
    assert not flags.any()
    assert error.max() <= 1.5 and np.sqrt(np.mean(error ** 2)) <= 0.6
    # ... and against the spectrum without the shift (zero Doppler in bin 0) it fails.
    assert np.abs(got - np.fft.ifftshift(ideal, axes=-1)).max() > 100


def test_tone_lands_in_its_doppler_bin():
    # f_d = -2 v / lambda: a closing target (v < 0) has f_d > 0 and lands above
    # M/2; frequencies fold modulo the PRF (+PRF/2 is bin 0, like -PRF/2).
    prf, wavelength = 5000.0, 0.1
    velocities = np.array([-60.0, 60.0, -20.0, 0.0, -124.9, 124.0, -240.0])
    doppler = -2 * velocities / wavelength
    for pulses in (8, 16, 64):
        for name in ("rectangular", "hamming"):
            x = tones(doppler, pulses, 12000, prf)
            got, _ = doppler_filter(x, pulses=pulses, width=16,
                                    window=doppler_window(name, pulses))
            peaks = np.argmax(np.abs(got), axis=1)
            want = (pulses // 2 + np.round(doppler * pulses / prf)).astype(int) % pulses
            np.testing.assert_array_equal(peaks, want)
            np.testing.assert_array_equal(doppler_bin(doppler, prf=prf, pulses=pulses), want)
            assert peaks[0] > pulses // 2 > peaks[1] and peaks[3] == pulses // 2
    assert doppler_bin(1200.0, prf=prf, pulses=16) == 12
    np.testing.assert_array_equal(doppler_frequencies(8, prf=800.0),
                                  [-400, -300, -200, -100, 0, 100, 200, 300])
    # A tone on a bin centre with the rectangular window fills that bin only.
    x = tones([3 / 16], 16, 12000)
    got, _ = doppler_filter(x, pulses=16, width=16, window=doppler_window("rectangular", 16))
    assert abs(abs(got[0, 11]) - 12000) <= 2 and np.abs(np.delete(got[0], 11)).max() <= 2


def snr_gain_db(pulses, name, seed):
    """Output SNR (peak bin of a bin-centred tone, noise power per bin) over input
    SNR per sample, measured on the bit-exact model. Output words wide enough
    (``output_width = width + 6``) that round-off is far below the noise."""
    rng = np.random.default_rng(seed)
    params = dict(pulses=pulses, width=16, output_width=22, window=doppler_window(name, pulses))
    signal = tones([0.25], pulses, 2000)
    noise = gaussian(rng, (2 ** 17 // pulses, pulses), 400)
    out_signal, flag = doppler_filter(signal, **params)
    out_noise, flags = doppler_filter(noise, **params)
    assert not flag.any() and not flags.any()
    snr_in = np.mean(np.abs(signal) ** 2) / np.mean(np.abs(noise) ** 2)
    snr_out = np.abs(out_signal).max() ** 2 / np.mean(np.abs(out_noise) ** 2)
    return 10 * np.log10(snr_out / snr_in)


@pytest.mark.parametrize("pulses", [8, 64, 256])
def test_coherent_gain_and_hamming_loss(pulses):
    # Rectangular: 10 log10(M). Hamming (periodic, DFT-even): 1.344 dB less,
    # (sum w)^2 / (M sum w^2) = 0.54^2 / (0.54^2 + 0.46^2 / 2) for every M.
    rect = snr_gain_db(pulses, "rectangular", seed=pulses)
    hamming = snr_gain_db(pulses, "hamming", seed=pulses)
    assert abs(rect - 10 * np.log10(pulses)) < 0.06
    assert abs(rect - hamming - 1.344) < 0.06


def peak_sidelobe_db(pulses, *, quantised, steps=32):
    """Peak sidelobe of the Hamming-weighted filter bank: a tone swept over one bin
    in ``steps`` steps, the largest output more than 2 bins (the main-lobe half
    width) from the tone, relative to the peak of a bin-centred tone. Returns the
    level and the largest deviation of the bit-exact output from the float one
    relative to that peak."""
    words = doppler_window("hamming", pulses)
    offsets = np.arange(steps) / steps
    exact = 0.9 * (2 ** 15 - 1) * np.exp(2j * np.pi * np.outer(offsets, np.arange(pulses)) / pulses)
    ideal = doppler_filter_ideal(exact, window=window("hamming", pulses + 1)[:pulses], width=16)
    got, flags = doppler_filter(np.round(exact.real) + 1j * np.round(exact.imag), pulses=pulses,
                                width=16, window=words)
    assert not flags.any()
    out = np.abs(got if quantised else ideal)
    distance = (np.arange(pulses)[None, :] - pulses // 2 - offsets[:, None] + pulses / 2) \
        % pulses - pulses / 2
    peak = np.abs(ideal[0]).max()
    return (20 * np.log10(out[np.abs(distance) > 2].max() / out[0].max()),
            np.abs(got - ideal).max() / peak)


@pytest.mark.parametrize("pulses, float_psl", [(8, -34.05), (16, -39.70), (64, -42.45),
                                               (256, -42.66)])
def test_hamming_sidelobes(pulses, float_psl):
    # The float periodic Hamming reaches the textbook -42.7 dB only for long CPIs
    # (short windows have higher sidelobes). The quantisation (16-bit input, 15-bit
    # window words, 16-bit FFT, rounding half to even) moves every output by at
    # most `deviation` of the peak, so the quantised peak sidelobe is at most
    # 20 log10(10**(float/20) + deviation): -42.3 dB at M = 64 and -42.5 at 256.
    ideal, _ = peak_sidelobe_db(pulses, quantised=False)
    level, deviation = peak_sidelobe_db(pulses, quantised=True)
    bound = 20 * np.log10(10 ** (ideal / 20) + deviation)
    assert abs(ideal - float_psl) < 0.02
    assert level <= bound
    assert bound - ideal < 0.25
    if pulses >= 64:
        assert level <= -42.3


def test_window_words():
    words = doppler_window("hamming", 16)
    assert words.max() == words[8] == 2 ** 15 - 1 and words[0] == round(0.08 * 32767)
    symmetric = doppler_window("hamming", 16, periodic=False, coef_width=10)
    np.testing.assert_array_equal(symmetric, symmetric[::-1])
    np.testing.assert_array_equal(symmetric, np.round(np.hamming(16) * (2 ** 9 - 1)))
    np.testing.assert_array_equal(doppler_window("rectangular", 8), [2 ** 15 - 1] * 8)


def test_model_errors():
    params = dict(pulses=8, width=12, window=[100] * 8)
    with pytest.raises(ValueError) as info:
        doppler_filter(np.zeros(16), **params)
    assert str(info.value) == "x must have shape (8,) or (frames, 8), not (16,)"
    with pytest.raises(ValueError) as info:
        doppler_filter(np.full(8, 2048), **params)
    assert str(info.value) == "x parts must fit signed(12): -2048 ... 2047"


# ---------------------------------------------------------------- gateware

@pytest.mark.parametrize("kwargs, error, message", [
    (dict(pulses=12), ValueError, "pulses must be a power of two, not 12"),
    (dict(pulses=4), ValueError, "pulses must be between 8 and 256, not 4"),
    (dict(pulses=512), ValueError, "pulses must be between 8 and 256, not 512"),
    (dict(pulses="8"), TypeError, "pulses must be an integer, not '8'"),
    (dict(width=1), ValueError, "width must be between 2 and 24, not 1"),
    (dict(output_width=30), ValueError, "output_width must be between 2 and 24, not 30"),
    (dict(coef_width=1), ValueError, "coef_width must be between 2 and 24, not 1"),
    (dict(twiddle_width=2), ValueError, "twiddle_width must be between 3 and 24, not 2"),
    (dict(scaling=(1, 1)), ValueError,
     "scaling must be a sequence of 3 shifts, each 0 or 1, not (1, 1)"),
    (dict(window=[1] * 7), ValueError, "window must have pulses = 8 values, not 7"),
    (dict(window=[0.5] * 8), TypeError, "window must hold integers; window[0] is 0.5"),
    (dict(window="hamming"), TypeError, "window must be a sequence of integers, not 'hamming'"),
    (dict(window=None), TypeError, "window must be a sequence of integers, not None"),
    (dict(window=[1, 2, 3, -4, 5, 6, 7, 8]), ValueError,
     "window[3] = -4 is outside 0 ... 2**(coef_width - 1) - 1 = 32767"),
    (dict(window=[32768] * 8), ValueError,
     "window[0] = 32768 is outside 0 ... 2**(coef_width - 1) - 1 = 32767"),
])
def test_parameter_errors(kwargs, error, message):
    with pytest.raises(error) as info:
        DopplerFilter(**(dict(pulses=8, width=12, window=[100] * 8) | kwargs))
    assert str(info.value) == message


def test_coefficients_fold_the_sign():
    dut = DopplerFilter(pulses=8, width=12, window=list(range(10, 18)))
    assert dut.coefficients == (10, -11, 12, -13, 14, -15, 16, -17)
    assert dut.window_shift == 15 and dut.output_width == 12
    assert DopplerFilter(pulses=8, width=12, output_width=14, coef_width=10,
                         window=[1] * 8).window_shift == 7


def frame(x, width, lines_per_cpi, first=True):
    """Input words: each row of ``x`` one slow-time line, ``cpi_end`` on the last
    pulse of every ``lines_per_cpi``-th line."""
    lines, pulses = x.shape
    flags = np.zeros((3, lines, pulses), dtype=np.int64)
    flags[0, :, 0] = first
    flags[1, :, -1] = 1
    flags[2, lines_per_cpi - 1::lines_per_cpi, -1] = 1
    words = pack(framed_layout(complex_layout(width)), **{
        "data.i": x.real.ravel().astype(np.int64), "data.q": x.imag.ravel().astype(np.int64),
        "first": flags[0].ravel(), "last": flags[1].ravel(), "cpi_end": flags[2].ravel()})
    return words, flags


def check(out, dut, x, flags, **params):
    """All outputs equal the model, in order; first on d = 0, last on d = M-1,
    cpi_end on d = M-1 of the lines that had it."""
    lines, pulses = x.shape
    assert len(out) == lines * pulses
    cols = unpack(framed_layout(complex_layout(dut.output_width)), out)
    want, _ = doppler_filter(x, pulses=pulses, **params)
    np.testing.assert_array_equal((cols["data.i"] + 1j * cols["data.q"]).reshape(x.shape), want)
    for name, column in zip(("first", "last", "cpi_end"), flags):
        np.testing.assert_array_equal(cols[name].reshape(x.shape), column)


PYSIM_CASES = [
    # pulses, width, window, extra parameters, p_stall
    (8, 12, "hamming", dict(), 0.3),
    (8, 10, "hann", dict(output_width=14, coef_width=12, twiddle_width=12), 0.5),
    (16, 16, "hamming", dict(output_width=18), 0.3),
    (16, 12, "taylor", dict(scaling=(1, 0, 1, 0), guard_bits=0), 0.0),
]


@pytest.mark.parametrize("pulses, width, name, extra, p_stall", PYSIM_CASES)
def test_amaranth_sim_bit_exact_under_stalls(pulses, width, name, extra, p_stall):
    rng = np.random.default_rng(pulses + width)
    params = dict(width=width, window=doppler_window(name, pulses,
                                                     coef_width=extra.get("coef_width", 16)),
                  **extra)
    x = lines_of(rng, 5, pulses, width)
    words, flags = frame(x, width, lines_per_cpi=2)
    dut = DopplerFilter(pulses=pulses, **params)
    out = simulate_stream(dut, words, len(words), p_in_stall=p_stall, p_out_stall=p_stall,
                          seed=pulses)
    check(out, dut, x, flags, **params)


@pytest.mark.parametrize("pulses", [8, 16])
def test_latency_and_gapless_throughput(pulses):
    dut = DopplerFilter(pulses=pulses, width=12, window=doppler_window("hamming", pulses))
    lines = 4
    words, _ = frame(np.zeros((lines, pulses)), 12, lines_per_cpi=lines)
    trace = trace_unstalled(dut, words, dut.latency + lines * pulses + 10)
    assert [r for r, _, _ in trace[:lines * pulses]] == [1] * (lines * pulses)
    cycles = [c for c, (_, valid, _) in enumerate(trace) if valid]
    assert cycles == list(range(dut.latency, dut.latency + lines * pulses))


def run_plain(dut, words):
    """Feed ``words`` without stalls; return the outputs, ``overflow`` and ``misframed``."""
    out, flags = [], []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        k = 0
        for _ in range(dut.latency + 2 * len(words)):
            if k < len(words):
                ctx.set(dut.i.payload.as_value(), words[k])
            ctx.set(dut.i.valid, k < len(words))
            _, _, ready, valid, payload = await ctx.tick().sample(
                dut.i.ready, dut.o.valid, dut.o.payload.as_value())
            k += bool(ready and k < len(words))
            if valid:
                out.append(payload)
        flags.extend([ctx.get(dut.overflow), ctx.get(dut.misframed)])

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return out, flags


def test_overflow_and_misframed_flags():
    # coef_width > output_width: a full-scale negative sample on an odd pulse
    # (negated window word 32767) rounds up to 2**(output_width-1) and saturates.
    params = dict(width=12, window=doppler_window("rectangular", 8))
    rng = np.random.default_rng(7)
    x = gaussian(rng, (3, 8), 200)
    words, flags = frame(x, 12, lines_per_cpi=3)
    dut = DopplerFilter(pulses=8, **params)
    out, status = run_plain(dut, words)
    check(out, dut, x, flags, **params)
    assert status == [0, 0]
    hot = x.copy()
    hot[1, 3] = -2048
    assert doppler_filter(hot, pulses=8, **params)[1].tolist() == [False, True, False]
    words, flags = frame(hot, 12, lines_per_cpi=3)
    dut = DopplerFilter(pulses=8, **params)
    out, status = run_plain(dut, words)
    check(out, dut, hot, flags, **params)
    assert status == [1, 0]
    # Lines without ``first``: the data are the same, the flag reports it.
    words, flags = frame(x, 12, lines_per_cpi=3, first=False)
    dut = DopplerFilter(pulses=8, **params)
    out, status = run_plain(dut, words)
    check(out, dut, x, flags, **params)
    assert status == [0, 1]


@pytest.mark.parametrize("pulses, width, name", [(8, 12, "hann"), (16, 16, "hamming")])
def test_cocotb_bit_exact_under_stalls(pulses, width, name):
    rng = np.random.default_rng(pulses)
    params = dict(width=width, window=doppler_window(name, pulses))
    lines = 24
    x = lines_of(rng, lines, pulses, width)
    words, flags = frame(x, width, lines_per_cpi=8)
    dut = DopplerFilter(pulses=pulses, **params)
    out = cocotb_stream(dut, f"doppler_filter_{pulses}_{width}_{name}", words, len(words),
                        seed=pulses)
    check(out, dut, x, flags, **params)
