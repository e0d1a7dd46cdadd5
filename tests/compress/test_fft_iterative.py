"""IterativeFFT: bit-exact to its model (which equals the pipelined FFT's model)
under random stalls, in Amaranth sim (n = 8, 16, 32) and cocotb + Verilator (n = 256).
Its overflow test is test_fft.py's, run on both cores."""

import numpy as np
import pytest

from amaradar.hdl.compress.fft_iterative import IterativeFFT
from amaradar.sim.models.compress.fft import fft
from amaradar.sim.models.compress.fft_iterative import fft_iterative, twiddle_index

# The pipelined FFT's stimulus and checker: IterativeFFT computes the same bits
# (test_model_equals_pipelined_fft_model), so its output is checked against
# amaradar.sim.models.compress.fft.fft, and the frame flags the same way.
from fft_frames import check_fft_output, frame_words, random_flags, random_frames
from amaradar.sim.engines.streams import cocotb_stream, simulate_stream, trace_unstalled
from amaradar.hdl.compress.fft_tables import fft_twiddles, twiddle_table


@pytest.mark.parametrize("n", [8, 16, 32, 64, 256, 1024, 4096])
@pytest.mark.parametrize("inverse", [False, True])
@pytest.mark.parametrize("rounding", ["half_even", "truncate"])
def test_model_equals_pipelined_fft_model(n, inverse, rounding):
    # Full-scale input, so saturation happens in some frames: the flags must agree too.
    x = random_frames(n, 16, 4, seed=n)
    stages = n.bit_length() - 1
    for params in (dict(), dict(guard_bits=0, scaling=(0, 1) * (stages // 2) + (1,) * (stages % 2))):
        got, got_ovf = fft_iterative(x, n=n, width=16, twiddle_width=16, inverse=inverse,
                                     rounding=rounding, **params)
        want, want_ovf = fft(x, n=n, width=16, twiddle_width=16, inverse=inverse,
                             rounding=rounding, **params)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(got_ovf, want_ovf)


@pytest.mark.parametrize("n", [8, 16, 64, 1024, 4096])
@pytest.mark.parametrize("twiddle_width", [3, 10, 16, 24])
def test_twiddle_table_gives_every_pair_twiddle(n, twiddle_width):
    # The ROM of W_n**k, indexed as the core does, holds exactly the twiddles of
    # every radix-2^2 pair (block m) of the pipelined FFT.
    re, im = twiddle_table(n, twiddle_width=twiddle_width)
    m = n
    while m > 4:
        index = twiddle_index(np.arange(m), n, m // 4)
        want_re, want_im = fft_twiddles(m, twiddle_width=twiddle_width)
        np.testing.assert_array_equal(re[index], want_re)
        np.testing.assert_array_equal(im[index], want_im)
        m //= 4


PYSIM_CASES = [
    # n, width, twiddle_width, inverse, rounding, guard_bits, bit_reversed, p_stall
    (8, 12, 12, False, "half_even", 2, False, 0.3),
    (8, 16, 16, True, "truncate", 0, True, 0.5),
    (16, 12, 12, False, "half_even", 2, False, 0.3),
    (16, 16, 16, True, "truncate", 0, False, 0.6),
    (16, 10, 12, False, "truncate", 2, True, 0.0),
    (32, 16, 16, False, "half_even", 2, False, 0.3),
    (32, 12, 14, True, "half_even", 1, True, 0.5),
]


@pytest.mark.parametrize("n, width, twiddle_width, inverse, rounding, guard_bits, bit_reversed, "
                         "p_stall", PYSIM_CASES)
def test_pysim_bit_exact_under_stalls(n, width, twiddle_width, inverse, rounding, guard_bits,
                                      bit_reversed, p_stall):
    frames = 3
    x = random_frames(n, width, frames, seed=n + width)
    flags = random_flags(n, frames, seed=width)
    params = dict(twiddle_width=twiddle_width, inverse=inverse, rounding=rounding,
                  guard_bits=guard_bits, bit_reversed=bit_reversed)
    out = simulate_stream(IterativeFFT(n=n, width=width, **params), frame_words(x, width, flags),
                          frames * n, p_in_stall=p_stall, p_out_stall=p_stall, seed=n,
                          max_cycles=40 * frames * n * n.bit_length())
    check_fft_output(out, x, width, flags, **params)


def test_pysim_scaling_schedule():
    n, width = 32, 12
    params = dict(twiddle_width=12, scaling=(1, 0, 1, 0, 1), guard_bits=0)
    x = random_frames(n, width, 2, seed=5, amplitude=0.1)
    flags = random_flags(n, 2, seed=6)
    out = simulate_stream(IterativeFFT(n=n, width=width, **params), frame_words(x, width, flags),
                          2 * n, seed=7, max_cycles=20000)
    check_fft_output(out, x, width, flags, **params)


@pytest.mark.parametrize("n", [8, 16, 32])
def test_latency_and_frame_period(n):
    # Source always valid, sink always ready: the first bin is offered ``latency``
    # cycles after the first sample's transfer, and frames follow every
    # ``cycles_per_frame`` cycles, each bin on consecutive cycles.
    dut = IterativeFFT(n=n, width=16, twiddle_width=16)
    frames = 3
    # one frame more than is checked: the source stays valid throughout
    trace = trace_unstalled(dut, [0] * ((frames + 1) * n),
                            dut.latency + frames * dut.cycles_per_frame)
    accepted = [c for c, (ready, _, _) in enumerate(trace) if ready]
    offered = [c for c, (_, valid, _) in enumerate(trace) if valid]
    assert offered[0] - accepted[0] == dut.latency
    period = dut.cycles_per_frame
    assert accepted[:frames * n] == [accepted[0] + f * period + k
                                     for f in range(frames) for k in range(n)]
    assert offered[:frames * n] == [offered[0] + f * period + k
                                    for f in range(frames) for k in range(n)]
    assert dut.samples_per_clock == n / (2 * n + 1 + (n.bit_length() - 1) * (n + 11))


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(n=4), ValueError, "n must be a power of two from 8 to 4096, not 4"),
    (dict(width=1), ValueError, "width must be between 2 and 24, not 1"),
    (dict(twiddle_width=30), ValueError, "twiddle_width must be between 3 and 24, not 30"),
    (dict(rounding="up"), ValueError, "rounding must be one of ('truncate', 'half_even'), not 'up'"),
    (dict(scaling=(1, 1)), ValueError,
     "scaling must be a sequence of 4 shifts, each 0 or 1, not (1, 1)"),
    (dict(inverse=0), TypeError, "inverse must be a bool, not 0"),
    (dict(bit_reversed=None), TypeError, "bit_reversed must be a bool, not None"),
])
def test_parameter_errors(kwargs, error, message):
    with pytest.raises(error) as info:
        IterativeFFT(**(dict(n=16, width=16, twiddle_width=16) | kwargs))
    assert str(info.value) == message


@pytest.mark.parametrize("inverse, rounding, guard_bits", [(False, "half_even", 0),
                                                          (True, "truncate", 2)])
def test_cocotb_bit_exact_under_stalls(inverse, rounding, guard_bits):
    n, width, frames = 256, 16, 3
    x = random_frames(n, width, frames, seed=n, amplitude=0.7)
    flags = random_flags(n, frames, seed=n + 1)
    params = dict(twiddle_width=16, inverse=inverse, rounding=rounding, guard_bits=guard_bits)
    name = f"fft_iterative_{n}_{'inv' if inverse else 'fwd'}_{rounding}_g{guard_bits}"
    out = cocotb_stream(IterativeFFT(n=n, width=width, **params), name, frame_words(x, width, flags),
                        frames * n, seed=n, max_cycles=4 * frames * 2800)
    check_fft_output(out, x, width, flags, **params)
