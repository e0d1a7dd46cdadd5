"""FFT gateware: bit-exact to ``amaradar.sim.models.compress.fft.fft`` under random stalls, in
Amaranth sim (small sizes) and in cocotb + Verilator on the generated Verilog."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from amaradar.hdl.formats import complex_layout, framed_layout, unpack
from amaradar.hdl.compress.fft import FFT
from amaradar.hdl.compress.fft_iterative import IterativeFFT
from amaradar.sim.models.compress.fft import fft

from fft_frames import check_fft_output, frame_words, random_flags, random_frames
from amaradar.sim.engines.streams import cocotb_stream, simulate_stream, trace_unstalled


PYSIM_CASES = [
    # n, width, twiddle_width, inverse, rounding, bit_reversed, p_stall
    (8, 12, 12, False, "half_even", False, 0.3),
    (8, 16, 10, True, "truncate", False, 0.5),
    (8, 10, 16, False, "truncate", True, 0.3),
    (16, 12, 12, False, "truncate", False, 0.3),
    (16, 12, 10, True, "half_even", False, 0.5),
    (16, 16, 16, False, "half_even", True, 0.3),
    (16, 10, 12, True, "truncate", True, 0.0),
    (64, 16, 16, False, "half_even", False, 0.3),
    (64, 12, 14, True, "truncate", False, 0.3),
    (256, 16, 16, True, "half_even", False, 0.3),
    (1024, 16, 16, False, "truncate", False, 0.2),
]


@pytest.mark.parametrize("n, width, twiddle_width, inverse, rounding, bit_reversed, p_stall",
                         PYSIM_CASES)
def test_fft_pysim_bit_exact_under_stalls(n, width, twiddle_width, inverse, rounding,
                                          bit_reversed, p_stall):
    frames = 3
    x = random_frames(n, width, frames, seed=n + width)
    flags = random_flags(n, frames, seed=width)
    params = dict(twiddle_width=twiddle_width, inverse=inverse, rounding=rounding,
                  bit_reversed=bit_reversed)
    dut = FFT(n=n, width=width, **params)
    out = simulate_stream(dut, frame_words(x, width, flags), frames * n,
                          p_in_stall=p_stall, p_out_stall=p_stall, seed=n)
    check_fft_output(out, x, width, flags, **params)


def test_fft_pysim_scaling_schedule_and_guard_bits():
    n, width = 16, 12
    params = dict(twiddle_width=12, scaling=(1, 0, 1, 0), guard_bits=0, rounding="half_even")
    x = random_frames(n, width, 3, seed=5, amplitude=0.2)
    flags = random_flags(n, 3, seed=6)
    out = simulate_stream(FFT(n=n, width=width, **params), frame_words(x, width, flags), 3 * n,
                          seed=7)
    check_fft_output(out, x, width, flags, **params)


def test_fft_one_bit_rounded_half_even_saturates_max_minus_min():
    """A stage that drops one bit rounding half to even: (2**(w-1) - 1) - (-2**(w-1))
    rounds up to 2**(w-1), which must saturate as the model does, not wrap (the
    formal proof in tests/formal/test_overflow.py found it)."""
    n, width = 16, 12
    params = dict(twiddle_width=12, scaling=(1, 0, 1, 0), guard_bits=0, rounding="half_even")
    x = np.zeros((2, n), dtype=np.complex128)
    x[0, 0], x[0, n // 2] = 2**(width - 1) - 1, -2**(width - 1)
    x[1, 3], x[1, 3 + n // 2] = 1j * (2**(width - 1) - 1), -2**(width - 1) * 1j
    flags = random_flags(n, 2, seed=3)
    out = simulate_stream(FFT(n=n, width=width, **params), frame_words(x, width, flags), 2 * n,
                          seed=4)
    check_fft_output(out, x, width, flags, **params)


def _run_plain(dut, x, width):
    """Feed ``x`` without stalls; return the outputs and ``overflow`` after each frame."""
    n = dut.n
    words = frame_words(x, width, random_flags(n, x.shape[0], seed=0))
    outputs, flags = [], []
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        feed = iter(words)
        word = next(feed, None)
        for _ in range(10 * len(words)):
            ctx.set(dut.i.valid, word is not None)
            if word is not None:
                ctx.set(dut.i.payload.as_value(), word)
            _, _, ready, valid, payload, overflow = await ctx.tick().sample(
                dut.i.ready, dut.o.valid, dut.o.payload.as_value(), dut.overflow)
            if ready and word is not None:
                word = next(feed, None)
            if valid:
                outputs.append(payload)
                if len(outputs) % n == 0:
                    flags.append(overflow)
                if len(outputs) == len(words):
                    return

    sim.add_testbench(bench)
    sim.run()
    return outputs, flags


@pytest.mark.parametrize("core", [FFT, IterativeFFT])
def test_fft_overflow_is_sticky_and_saturates(core):
    n, width = 16, 16
    top = 2**(width - 1)
    benign = random_frames(n, width, 1, seed=9, amplitude=0.5)
    # Full-scale (1+j) values that meet the 45-degree twiddle of the first pair:
    # the product has magnitude sqrt(2) * full scale and must saturate.
    hot = np.zeros((1, n), dtype=np.complex128)
    hot[0, 2], hot[0, 10] = -top * (1 + 1j), (top - 1) * (1 + 1j)
    hot[0, 6], hot[0, 14] = (top - 1) * (1 - 1j), (1 - top) * (1 - 1j)
    x = np.concatenate([benign, hot, benign])
    want, overflowed = fft(x, n=n, width=width, twiddle_width=16)
    assert overflowed.tolist() == [False, True, False]
    outputs, flags = _run_plain(core(n=n, width=width, twiddle_width=16), x, width)
    cols = unpack(framed_layout(complex_layout(width)), outputs)
    np.testing.assert_array_equal((cols["data.i"] + 1j * cols["data.q"]).reshape(x.shape), want)
    # The flag of frame 1 may rise while frame 0 is still leaving; it is set by the
    # end of frame 1 and stays set.
    assert flags[1:] == [1, 1]


@pytest.mark.parametrize("n, bit_reversed", [(8, False), (8, True), (16, False), (16, True),
                                             (64, False), (64, True)])
def test_fft_latency_and_gapless_throughput(n, bit_reversed):
    dut = FFT(n=n, width=16, twiddle_width=16, bit_reversed=bit_reversed)
    frames = 4
    trace = trace_unstalled(dut, [0] * (frames * n), 4 * n * frames)
    ready = [r for r, _, _ in trace]
    assert ready[:frames * n] == [1] * (frames * n), "input stalled with the output ready"
    cycles = [c for c, (_, valid, _) in enumerate(trace) if valid]
    assert len(cycles) == frames * n
    assert cycles[0] == dut.latency
    assert cycles == list(range(cycles[0], cycles[0] + frames * n))


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(n=4), ValueError, "n must be a power of two from 8 to 4096, not 4"),
    (dict(n=100), ValueError, "n must be a power of two from 8 to 4096, not 100"),
    (dict(width=1), ValueError, "width must be between 2 and 24, not 1"),
    (dict(twiddle_width=30), ValueError, "twiddle_width must be between 3 and 24, not 30"),
    (dict(guard_bits=-1), ValueError, "guard_bits must be between 0 and 24, not -1"),
    (dict(rounding="nearest"), ValueError,
     "rounding must be one of ('truncate', 'half_even'), not 'nearest'"),
    (dict(scaling=(1, 1, 1)), ValueError,
     "scaling must be a sequence of 4 shifts, each 0 or 1, not (1, 1, 1)"),
    (dict(scaling=(1, 2, 1, 1)), ValueError,
     "scaling must be a sequence of 4 shifts, each 0 or 1, not (1, 2, 1, 1)"),
    (dict(inverse=1), TypeError, "inverse must be a bool, not 1"),
    (dict(bit_reversed="yes"), TypeError, "bit_reversed must be a bool, not 'yes'"),
])
def test_fft_parameter_errors(kwargs, error, message):
    params = dict(n=16, width=16, twiddle_width=16) | kwargs
    with pytest.raises(error) as info:
        FFT(**params)
    assert str(info.value) == message


COCOTB_CASES = [
    # n, inverse, rounding, bit_reversed
    (8, True, "half_even", False),
    (16, False, "truncate", False),
    (16, True, "half_even", False),
    (64, False, "half_even", False),
    (64, True, "truncate", True),
    (256, False, "truncate", False),
    (256, True, "half_even", False),
    (1024, False, "half_even", False),
    (1024, True, "truncate", False),
    pytest.param(4096, False, "half_even", False, marks=pytest.mark.slow),
]


@pytest.mark.parametrize("n, inverse, rounding, bit_reversed", COCOTB_CASES)
def test_fft_cocotb_bit_exact_under_stalls(n, inverse, rounding, bit_reversed):
    width, frames = 16, 3
    x = random_frames(n, width, frames, seed=n, amplitude=0.7)
    flags = random_flags(n, frames, seed=n + 1)
    params = dict(twiddle_width=16, inverse=inverse, rounding=rounding, bit_reversed=bit_reversed)
    name = f"fft_{n}_{'inv' if inverse else 'fwd'}_{rounding}{'_br' if bit_reversed else ''}"
    out = cocotb_stream(FFT(n=n, width=width, **params), name, frame_words(x, width, flags),
                        frames * n, seed=n)
    check_fft_output(out, x, width, flags, **params)
