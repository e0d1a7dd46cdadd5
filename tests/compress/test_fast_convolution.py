"""FastConvolution: models against np.convolve and the FIR, pulse compression figures,
gateware bit-exact to the model with stalls (Amaranth sim and cocotb + Verilator)."""

import numpy as np
import pytest
from amaranth import Value
from amaranth.sim import Simulator

from amaradar.hdl.compress.fast_convolution import FastConvolution
from amaradar.hdl.formats import complex_layout, framed_layout, pack, unpack
from amaradar.sim.models.compress.fast_convolution import fast_convolution, fast_convolution_ideal
from amaradar.sim.models.compress.matched_filter import (matched_filter, matched_filter_ideal,
                                                         matched_filter_taps, safe_output_shift)
from amaradar.sim.models.compress.windows import window

from pulses import centred_lfm, peak_sidelobe_db, quantise
from amaradar.sim.engines.streams import cocotb_stream, simulate_stream, trace_unstalled
from amaradar.hdl.compress.fast_convolution_plan import (fast_convolution_plan,
                                                         fast_convolution_spectrum)

IN, OUT = framed_layout(complex_layout(12)), framed_layout(complex_layout(18))


def _random_taps(rng, count):
    return rng.integers(-2**15, 2**15, count) + 1j * rng.integers(-2**15, 2**15, count)


def _random_lines(rng, lengths, top=2048):
    return [rng.integers(-top, top, n) + 1j * rng.integers(-top, top, n) for n in lengths]


# ---------------------------------------------------------------- models

@pytest.mark.parametrize("n,p,lengths", [(16, 5, [1, 11, 12, 40]), (64, 32, [100, 33])])
def test_ideal_model_is_the_linear_convolution(n, p, lengths):
    """Overlap-save segmenting: no wrap-around, history cleared per line, any length."""
    rng = np.random.default_rng(n)
    taps = rng.normal(size=p) + 1j * rng.normal(size=p)
    for line in _random_lines(rng, lengths):
        want = np.convolve(line, taps)[:len(line)] / 8
        assert np.allclose(fast_convolution_ideal(line, taps, n=n, output_shift=3), want,
                           atol=1e-9)


@pytest.mark.parametrize("n,p,rounding", [(16, 5, "half_even"), (32, 8, "truncate"),
                                          (256, 64, "half_even")])
def test_model_has_the_fir_scale_within_a_few_lsb(n, p, rounding):
    """Same output scale as the FIR with the same output_shift. Bound: both models
    round the same exact convolution; the FFT path adds the round-off of two
    transforms and a product: for full-scale random input and taps (the worst
    case: a flat spectrum) the difference measured 0.8 to 2.2 LSB rms per part,
    at most 8 LSB, mean below 0.25 LSB (n = 16 ... 1024, both roundings)."""
    rng = np.random.default_rng(p)
    taps = _random_taps(rng, p)
    shift = safe_output_shift(taps, 12, 18, rounding=rounding)
    lines = _random_lines(rng, [3 * n, n // 2 + 3])
    got, over = fast_convolution(lines, taps, n=n, input_width=12, output_width=18,
                                 output_shift=shift, rounding=rounding)
    assert not over
    for line, y in zip(lines, got):
        fir, _ = matched_filter(line, taps, output_width=18, output_shift=shift, rounding=rounding)
        error = np.concatenate([(y - fir).real, (y - fir).imag])
        assert np.abs(error).max() <= 10
        assert np.std(error) <= 2.5 and abs(np.mean(error)) <= 0.5
        assert np.std(fir.real) > 1000          # the outputs are far from trivial


def test_spectrum_is_the_taps_dft_scaled_by_a_power_of_two():
    taps = _random_taps(np.random.default_rng(3), 7)
    spectrum, shift = fast_convolution_spectrum(taps, n=32, coef_width=16)
    exact = np.fft.fft(taps, 32) / 2**shift
    assert np.abs(spectrum - exact).max() <= np.sqrt(0.5)
    assert max(np.abs(spectrum.real).max(), np.abs(spectrum.imag).max()) <= 2**15 - 1
    assert max(np.abs(exact.real).max(), np.abs(exact.imag).max()) * 2 > 2**15 - 1


def test_plan_gain_is_two_to_the_minus_output_shift():
    taps = _random_taps(np.random.default_rng(4), 20)
    plan = fast_convolution_plan(taps, n=64, input_width=12, output_width=18, output_shift=25)
    total = (plan.input_shift + 6 - sum(plan.forward_scaling) - plan.spectrum_shift
             - plan.product_shift - sum(plan.inverse_scaling) - plan.final_shift)
    assert total == -25
    assert plan.step == 64 - 20 + 1 and len(plan.spectrum) == 64


# ---------------------------------------------------------------- pulse compression

def _compression(bt, oversample, name):
    """A noiseless echo at -1 dBFS through the bit-exact model and the float model.

    Returns (PSL bit-exact, PSL float, peak gain loss in dB, noise SNR loss in dB).
    The gain loss compares the bit-exact peak times 2**output_shift with the float
    peak (ideal unquantised taps, np.convolve of the same quantised input). The
    SNR loss feeds complex Gaussian noise of 6 LSB rms per part and compares the
    error of the bit-exact output against the float output with the output noise:
    10*log10(1 + error power / noise power).
    """
    pulse = centred_lfm(bt, oversample)
    p = len(pulse)
    n = 1 << (2 * p - 1).bit_length()
    weights = window(name, p)
    taps = matched_filter_taps(pulse, coef_width=16, window=weights)
    ideal_taps = matched_filter_taps(pulse, coef_width=16, window=weights, quantize=False)
    shift = safe_output_shift(taps, 12, 18)
    line = np.zeros(3 * p, dtype=complex)
    line[p // 2:p // 2 + p] = pulse
    x = quantise(1834 * line)                        # -1 dBFS of a 12-bit part
    args = dict(n=n, input_width=12, output_width=18, output_shift=shift)
    fixed, over = fast_convolution(x, taps, **args)
    ideal = matched_filter_ideal(x, ideal_taps, output_shift=shift)
    assert not over
    gain_loss = 20 * np.log10(np.abs(ideal).max() / np.abs(fixed).max())
    rng = np.random.default_rng(bt)
    noise = quantise(6 * (rng.normal(size=(4, 3 * p)) + 1j * rng.normal(size=(4, 3 * p))))
    noisy, _ = fast_convolution(noise, taps, **args)
    reference = matched_filter_ideal(noise, ideal_taps, output_shift=shift)
    ratio = np.mean(np.abs(noisy - reference)**2) / np.mean(np.abs(reference)**2)
    return peak_sidelobe_db(fixed), peak_sidelobe_db(ideal), gain_loss, 10 * np.log10(1 + ratio)


@pytest.mark.parametrize("bt,oversample", [(50, 4), (100, 2), (1000, 2)])
@pytest.mark.parametrize("name", ["rectangular", "hamming"])
def test_pulse_compression_matches_the_float_model(bt, oversample, name):
    """fs = 2B or 4B: at fs = B the samples straddle the sidelobes and the spectrum
    aliases (see test_matched_filter.test_peak_sidelobe_ratio)."""
    psl_fixed, psl_ideal, gain_loss, snr_loss = _compression(bt, oversample, name)
    assert abs(psl_fixed - psl_ideal) <= 0.3
    assert abs(gain_loss) <= 0.1
    assert snr_loss <= 0.1
    assert psl_ideal < (-13 if name == "rectangular" else -35)


# ---------------------------------------------------------------- gateware

def _stimulus(rng, lengths, taps, n, shift, rounding="half_even"):
    lines = _random_lines(rng, lengths)
    y, _ = fast_convolution(lines, taps, n=n, input_width=12, output_width=18,
                            output_shift=shift, rounding=rounding)
    x, y = np.concatenate(lines), np.concatenate(y)
    last = np.concatenate([np.arange(k) == k - 1 for k in lengths]).astype(int)
    flags = {"first": np.concatenate([np.arange(k) == 0 for k in lengths]).astype(int),
             "last": last, "cpi_end": last * (np.cumsum(last) % 2 == 0)}
    return (pack(IN, **{"data.i": x.real, "data.q": x.imag}, **flags),
            pack(OUT, **{"data.i": y.real, "data.q": y.imag}, **flags))


@pytest.mark.parametrize("n,p,lengths,rounding,p_stall", [
    (16, 5, [7, 1, 11, 12, 30], "half_even", 0.3),
    (32, 8, [40, 25, 3], "truncate", 0.5),
    (16, 8, [9, 20], "half_even", 0.0),
])
def test_gateware_bit_exact_with_stalls(n, p, lengths, rounding, p_stall):
    rng = np.random.default_rng(n + p)
    taps = _random_taps(rng, p)
    shift = safe_output_shift(taps, 12, 18, rounding=rounding)
    words, expected = _stimulus(rng, lengths, taps, n, shift, rounding)
    dut = FastConvolution(taps=taps, n=n, output_shift=shift, rounding=rounding)
    out = simulate_stream(dut, words, len(expected), p_in_stall=p_stall, p_out_stall=p_stall,
                          seed=p)
    assert out == expected


def _run(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("n,p", [(16, 5), (32, 13)])
def test_latency_and_throughput(n, p):
    """``latency`` cycles from the first sample's transfer to the first output;
    ``S = n - P + 1`` samples accepted per ``n`` cycles."""
    rng = np.random.default_rng(5)
    taps = _random_taps(rng, p)
    dut = FastConvolution(taps=taps, n=n, output_shift=safe_output_shift(taps, 12, 18))
    words, _ = _stimulus(rng, [8 * n], taps, n, safe_output_shift(taps, 12, 18))
    trace = trace_unstalled(dut, words, 12 * n + 100)
    ready = [r for r, _, _ in trace]
    first_in = ready.index(1)
    first_out = [v for _, v, _ in trace].index(1)
    assert first_out - first_in == dut.latency
    assert sum(ready[first_in:first_in + n * 6]) == 6 * (n - p + 1)


def test_overflow_is_sticky_and_set_only_by_saturation():
    rng = np.random.default_rng(6)
    taps = _random_taps(rng, 6)
    shift = safe_output_shift(taps, 12, 18)
    words, _ = _stimulus(rng, [40], taps, 16, shift)
    for extra, expect in ((0, False), (-2, True)):
        dut = FastConvolution(taps=taps, n=16, output_shift=shift + extra)
        lines = [np.array(unpack(IN, words)["data.i"]) + 1j * np.array(unpack(IN, words)["data.q"])]
        _, over = fast_convolution(lines, taps, n=16, input_width=12, output_width=18,
                                   output_shift=shift + extra)
        trace = trace_unstalled(dut, words, 300)
        assert over == expect
        assert trace[-1][2] == expect and trace[0][2] == 0


def test_spectrum_write_port_replaces_the_reference():
    """Writing ``1j * H`` filters with ``1j * taps`` (same spectrum shift)."""
    rng = np.random.default_rng(7)
    taps = _random_taps(rng, 5)
    shift = safe_output_shift(taps, 12, 18)
    spectrum, _ = fast_convolution_spectrum(taps, n=16, coef_width=16)
    words, expected = _stimulus(rng, [30, 14], 1j * taps, 16, shift)
    dut = FastConvolution(taps=taps, n=16, output_shift=shift)
    out = []

    async def bench(ctx):
        ctx.set(dut.spectrum_we, 1)
        for k, h in enumerate(1j * spectrum):
            ctx.set(dut.spectrum_addr, k)
            ctx.set(dut.spectrum_data, {"i": int(h.real), "q": int(h.imag)})
            await ctx.tick()
        ctx.set(dut.spectrum_we, 0)
        ctx.set(dut.o.ready, 1)
        k = 0
        while len(out) < len(expected):
            ctx.set(dut.i.valid, k < len(words))
            if k < len(words):
                ctx.set(Value.cast(dut.i.payload), words[k])
            _, _, ready, valid, payload = await ctx.tick().sample(
                dut.i.ready, dut.o.valid, Value.cast(dut.o.payload))
            k += bool(ready and k < len(words))
            if valid:
                out.append(payload)
    _run(dut, bench)
    assert out == expected


def test_gateware_cocotb_n256_p64():
    rng = np.random.default_rng(8)
    pulse = np.exp(1j * np.pi * (np.arange(64) - 31.5)**2 / 64 / 2)
    taps = matched_filter_taps(pulse, coef_width=16, window=window("hamming", 64))
    shift = safe_output_shift(taps, 12, 18)
    words, expected = _stimulus(rng, [400, 193, 256], taps, 256, shift)
    out = cocotb_stream(FastConvolution(taps=taps, n=256, output_shift=shift),
                        "fast_convolution_256_64", words, len(expected),
                        p_in_stall=0.3, p_out_stall=0.4, seed=9)
    assert out == expected


# ---------------------------------------------------------------- parameters

@pytest.mark.parametrize("kwargs,error,message", [
    (dict(n=24), ValueError, "n must be a power of two from 8 to 4096, not 24"),
    (dict(n=16, taps=[1, 2, 3, 4, 5, 6, 7, 8, 9]), ValueError,
     "taps must be a 1-D sequence of 2 to n/2 = 8 values, not shape (9,)"),
    (dict(taps=[1]), ValueError, "taps must be a 1-D sequence of 2 to n/2 = 8 values, not shape (1,)"),
    (dict(rounding="up"), ValueError,
     "rounding must be one of ('truncate', 'half_even'), not 'up'"),
    (dict(fft_width=30), ValueError, "fft_width must be between 2 and 24, not 30"),
    (dict(input_width=20), ValueError, "input_width must be between 2 and 18, not 20"),
    (dict(output_shift=-1), ValueError, "output_shift must be >= 0, not -1"),
    (dict(output_shift=0, taps=[30000, 30000, 30000]), ValueError,
     "output_shift must be at least 10 for these taps, n and widths, not 0"),
    (dict(twiddle_width=2), ValueError, "twiddle_width must be between 3 and 24, not 2"),
    (dict(coef_width=1), ValueError, "coef_width must be between 2 and 24, not 1"),
])
def test_parameter_errors(kwargs, error, message):
    args = dict(taps=[1000, 2000j, -300], n=16, output_shift=20) | kwargs
    with pytest.raises(error) as info:
        FastConvolution(**args)
    assert str(info.value) == message
