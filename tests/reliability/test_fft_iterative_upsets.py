"""A flipped bit in the iterative FFT's data RAM (the iCE40 variant's FFT), under
random stalls: it never locks up (every frame comes out, ``n`` words each, and no
word more), and every frame but the one in its RAM at the upset and the one entering
then is bit-exact to the model."""

import numpy as np
import pytest
from amaranth import Fragment

from amaradar.hdl.compress.fft_iterative import IterativeFFT
from amaradar.sim.engines.fault_bench import Upset, memories, run_with_fault
from fft_frames import check_fft_output, frame_words, random_flags, random_frames

N, WIDTH, FRAMES = 16, 12, 5


@pytest.mark.parametrize("at,address,bit", [(2 * N + 3, 5, 2), (2 * N + 11, 9, 21),
                                            (3 * N - 1, 0, 11)])
def test_upset_spoils_at_most_two_frames(at, address, bit):
    x = random_frames(N, WIDTH, FRAMES, seed=at)
    flags = random_flags(N, FRAMES, seed=bit)
    dut = IterativeFFT(n=N, width=WIDTH, twiddle_width=WIDTH)
    fragment = Fragment.get(dut, None)
    assert set(memories(fragment)) == {"ram"}
    run = run_with_fault(dut, frame_words(x, WIDTH, flags), fault=Upset("ram", address, (bit,)),
                         trigger=lambda fed, _: fed == at, fragment=fragment, seed=at,
                         settle_cycles=40 * N)
    out = run.before + run.after
    assert len(out) == FRAMES * N
    entering = at // N
    kept = [f for f in range(FRAMES) if f not in (entering - 1, entering)]
    words = np.array(out).reshape(FRAMES, N)[kept].ravel().tolist()
    check_fft_output(words, x[kept], WIDTH, tuple(f[kept] for f in flags), twiddle_width=WIDTH)
