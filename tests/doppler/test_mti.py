"""MTI cancellers: the model against a direct sum and against theory (RADAR_FACTS:
|H(f)|, noise power gain, clutter attenuation), the gateware bit-exact to the model
under random stalls in Amaranth sim and in cocotb + Verilator, parameter errors."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from amaradar.hdl.doppler.mti import MTI_TAPS, MtiCanceller
from amaradar.hdl.formats import complex_layout, framed_layout, pack, unpack
from amaradar.sim.engines.streams import cocotb_stream, simulate_stream
from amaradar.sim.models.doppler.mti import mti, mti_response

MODES = ["two_pulse", "three_pulse"]


def complex_ints(rng, shape, width, amplitude=1.0):
    top = int(amplitude * (2 ** (width - 1) - 1))
    return rng.integers(-top - 1, top + 1, shape) + 1j * rng.integers(-top - 1, top + 1, shape)


def power(y):
    return np.mean(np.abs(y) ** 2)


# ---------------------------------------------------------------- model

@pytest.mark.parametrize("mode", MODES)
def test_model_equals_direct_sum(mode):
    rng = np.random.default_rng(1)
    taps = MTI_TAPS[mode]
    for length in (1, 2, 3, 16):
        x = complex_ints(rng, (5, length), 18)
        y = mti(x, mode=mode)
        for line, out in zip(x, y):
            line = [complex(int(v.real), int(v.imag)) for v in line]
            want = [0 if m < len(taps) - 1 else
                    sum(t * line[m - k] for k, t in enumerate(taps)) for m in range(length)]
            assert out.tolist() == want
    # one line (1-D) is the same as that line of a 2-D array; integer input works
    np.testing.assert_array_equal(mti(x[3], mode=mode), y[3])
    np.testing.assert_array_equal(mti(x.real.astype(np.int64), mode=mode), mti(x.real, mode=mode))


@pytest.mark.parametrize("mode, law", [("two_pulse", lambda f: 2 * np.abs(np.sin(np.pi * f))),
                                       ("three_pulse", lambda f: 4 * np.sin(np.pi * f) ** 2)])
def test_tone_gain_is_the_textbook_response(mode, law):
    # A quantised tone x = A exp(2j pi f m / PRF): every settled output has magnitude
    # |H(f)| * A up to the input rounding (|e| <= 1/sqrt(2) per sample), so the
    # measured rms gain is within (sum|h| + |H|) / sqrt(2) / (A - 1/sqrt(2)) of |H(f)|.
    prf, amplitude, m = 1000.0, 2.0 ** 14, np.arange(256)
    order, norm = len(MTI_TAPS[mode]) - 1, sum(abs(t) for t in MTI_TAPS[mode])
    for f in (0, 20, 125, 250, 370, 500, 750, 1000, 1020, -300):
        tone = amplitude * np.exp(2j * np.pi * f * m / prf)
        x = np.round(tone.real) + 1j * np.round(tone.imag)
        y = mti(x, mode=mode)[order:]
        gain = np.sqrt(power(y) / power(x[order:]))
        theory = law(f / prf)
        assert np.isclose(abs(mti_response(f, prf=prf, mode=mode)), theory, atol=1e-12)
        assert abs(gain - theory) <= (norm + theory) / np.sqrt(2) / (amplitude - 1)
        if f % prf == 0:                      # the blind speeds: exactly cancelled
            assert not np.any(y)


@pytest.mark.parametrize("mode, gain", [("two_pulse", 2), ("three_pulse", 6)])
def test_white_noise_power_gain(mode, gain):
    assert sum(t * t for t in MTI_TAPS[mode]) == gain
    rng = np.random.default_rng(2)
    x = np.round(rng.normal(0, 1000, (400, 256))) + 1j * np.round(rng.normal(0, 1000, (400, 256)))
    order = len(MTI_TAPS[mode]) - 1
    measured = power(mti(x, mode=mode)[:, order:]) / power(x)
    assert abs(measured / gain - 1) < 0.02       # 100k outputs: about 0.5 % rms


def gaussian_clutter(spread, count, rms, seed):
    """Clutter with a Gaussian spectrum of standard deviation ``spread`` (in units of
    the PRF), centred at 0: deterministic amplitudes on a fine frequency grid with
    random phases (a low-variance realisation), quantised. Returns the samples and
    the normalised autocorrelation ``rho(lag)`` of that spectrum."""
    rng = np.random.default_rng(seed)
    f = np.fft.fftfreq(count)
    spectrum = np.exp(-f ** 2 / (2 * spread ** 2))
    x = np.fft.ifft(np.sqrt(spectrum) * np.exp(2j * np.pi * rng.random(count)))
    x *= rms / np.sqrt(power(x))
    rho = lambda lag: np.sum(spectrum * np.cos(2 * np.pi * f * lag)) / np.sum(spectrum)
    return np.round(x.real) + 1j * np.round(x.imag), rho


def test_clutter_attenuation():
    # Output / input clutter power for a Gaussian clutter spectrum of spread
    # sigma_f: exactly sum_{k,l} h_k h_l rho(k - l), i.e. 2 (1 - rho1) and
    # 6 - 8 rho1 + 2 rho2 with rho(k) = exp(-2 pi^2 (sigma_f k / PRF)^2); for a
    # narrow spectrum these tend to (2 pi sigma_f / PRF)^2 and 3 (2 pi sigma_f / PRF)^4:
    # the textbook laws (RADAR_FACTS), the three-pulse one with its coefficient 3.
    # Doubling the spread costs 6 dB and 12 dB of attenuation.
    lines, pulses = 1024, 64
    ratios = {}
    for spread in (0.01, 0.02):
        x, rho = gaussian_clutter(spread, lines * pulses, 4096, seed=int(spread * 1000))
        x = x.reshape(lines, pulses)
        law = {"two_pulse": (2 * np.pi * spread) ** 2, "three_pulse": 3 * (2 * np.pi * spread) ** 4}
        for mode in MODES:
            taps = MTI_TAPS[mode]
            order = len(taps) - 1
            exact = sum(a * b * rho(k - j) for k, a in enumerate(taps) for j, b in enumerate(taps))
            measured = power(mti(x, mode=mode)[:, order:]) / power(x)
            assert abs(measured / exact - 1) < 0.05
            assert abs(exact / law[mode] - 1) < (0.01 if mode == "two_pulse" else 0.05)
            ratios[mode, spread] = measured
    assert 3.6 < ratios["two_pulse", 0.02] / ratios["two_pulse", 0.01] < 4.4
    assert 14 < ratios["three_pulse", 0.02] / ratios["three_pulse", 0.01] < 18


def test_model_errors():
    with pytest.raises(ValueError) as info:
        mti(np.zeros(8), mode="four_pulse")
    assert str(info.value) == "mode must be one of ('two_pulse', 'three_pulse'), not 'four_pulse'"
    with pytest.raises(ValueError) as info:
        mti(np.full(8, 0.5))
    assert str(info.value) == "x must have integer real and imaginary parts"


# ---------------------------------------------------------------- gateware

@pytest.mark.parametrize("kwargs, error, message", [
    (dict(width=0), ValueError, "width must be >= 1, not 0"),
    (dict(width=12.0), TypeError, "width must be an integer, not 12.0"),
    (dict(mode="three"), ValueError,
     "mode must be one of ('two_pulse', 'three_pulse'), not 'three'"),
    (dict(mode=None), ValueError, "mode must be one of ('two_pulse', 'three_pulse'), not None"),
])
def test_parameter_errors(kwargs, error, message):
    with pytest.raises(error) as info:
        MtiCanceller(**(dict(width=12) | kwargs))
    assert str(info.value) == message


def test_widths_and_latency():
    assert MtiCanceller(width=12).output_width == 13
    assert MtiCanceller(width=12, mode="three_pulse").output_width == 14
    # Back to back with the output always ready: sample k (accepted at edge k) is
    # offered from edge k + latency on, one per clock, and the input never waits.
    dut = MtiCanceller(width=8, mode="three_pulse")
    trace = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        ctx.set(dut.i.valid, 1)
        for k in range(50):
            ctx.set(dut.i.payload.data.i, k % 100)
            ctx.set(dut.i.valid, k < 40)
            _, _, ready, valid = await ctx.tick().sample(dut.i.ready, dut.o.valid)
            trace.append((ready, valid))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert all(ready for ready, _ in trace)
    cycles = [c for c, (_, valid) in enumerate(trace) if valid]
    assert cycles == list(range(dut.latency, dut.latency + 40))


def stimulus(rng, lengths, width, mark_first=True):
    """Lines of the given lengths (random, with full-scale alternating extremes in
    some, which reach the largest outputs); CPIs of three lines. Returns the input
    words, the lines and the flag columns."""
    lines = []
    top = 2 ** (width - 1)
    for n, length in enumerate(lengths):
        line = complex_ints(rng, length, width)
        if n % 4 == 1:
            extremes = np.where(np.arange(length) % 2, top - 1, -top)
            line = extremes - 1j * (extremes + 1)
        lines.append(line)
    first = np.concatenate([[int(mark_first or n % 2 == 0)] + [0] * (len(l) - 1)
                            for n, l in enumerate(lines)])
    last = np.concatenate([[0] * (len(l) - 1) + [1] for l in lines])
    cpi_end = np.concatenate([[0] * (len(l) - 1) + [int(n % 3 == 2)] for n, l in enumerate(lines)])
    x = np.concatenate(lines)
    words = pack(framed_layout(complex_layout(width)), **{
        "data.i": x.real.astype(np.int64), "data.q": x.imag.astype(np.int64),
        "first": first, "last": last, "cpi_end": cpi_end})
    return words, lines, (first, last, cpi_end)


def check(out, dut, lines, flags, mode):
    want = np.concatenate([mti(line, mode=mode) for line in lines])
    assert len(out) == len(want)
    cols = unpack(framed_layout(complex_layout(dut.output_width)), out)
    np.testing.assert_array_equal(cols["data.i"] + 1j * cols["data.q"], want)
    for name, column in zip(("first", "last", "cpi_end"), flags):
        np.testing.assert_array_equal(cols[name], column)
    return want


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("p_stall, mark_first", [(0.3, True), (0.5, False), (0.0, True)])
def test_amaranth_sim_bit_exact(mode, p_stall, mark_first):
    # Lines of 16, 1, 2, 3 and 16 samples; without ``first`` on odd lines ``last``
    # alone delimits them.
    width = 8
    words, lines, flags = stimulus(np.random.default_rng(3), [16, 16, 1, 2, 3, 16, 5, 16], width,
                                   mark_first)
    dut = MtiCanceller(width=width, mode=mode)
    out = simulate_stream(dut, words, len(words), p_in_stall=p_stall, p_out_stall=p_stall,
                          seed=int(10 * p_stall))
    want = check(out, dut, lines, flags, mode)
    bound = 2 ** (width + dut.order - 1) - 2 ** (dut.order - 1)
    assert np.abs(want.real).max() == bound        # the extremes occur, exactly


@pytest.mark.parametrize("mode", MODES)
def test_cocotb_bit_exact(mode):
    width = 16
    words, lines, flags = stimulus(np.random.default_rng(4), [32] * 24 + [3, 1, 32], width)
    dut = MtiCanceller(width=width, mode=mode)
    out = cocotb_stream(dut, f"mti_{mode}_{width}", words, len(words), seed=5)
    check(out, dut, lines, flags, mode)
