import random

import pytest

from amaradar.hdl.formats import complex_layout
from amaradar.hdl.stream.skid_buffer import SkidBuffer

from amaradar.sim.engines.streams import cocotb_stream, simulate_stream


@pytest.mark.parametrize("p_stall", [0.0, 0.3, 0.7])
def test_skid_buffer_passes_every_word_in_order(p_stall):
    words = [random.Random(1).getrandbits(24) for _ in range(300)]
    out = simulate_stream(SkidBuffer(complex_layout(12)), words, len(words),
                          p_in_stall=p_stall, p_out_stall=p_stall, seed=2)
    assert out == words


def test_skid_buffer_cocotb():
    rng = random.Random(3)
    words = [rng.getrandbits(24) for _ in range(500)]
    out = cocotb_stream(SkidBuffer(complex_layout(12)), "skid_buffer", words, len(words), seed=4)
    assert out == words
