"""The pipelined multiplier: exact products of every operand shape, latency as announced."""

import random

import pytest
from amaranth import Module, Shape, Signal, signed, unsigned
from amaranth.sim import Simulator

from amaradar.hdl.stream.pipeline import multiply, product_latency


def _extremes(shape, rng, count):
    shape = Shape.cast(shape)
    lo = -(1 << (shape.width - 1)) if shape.signed else 0
    hi = (1 << (shape.width - (1 if shape.signed else 0))) - 1
    return [rng.choice([lo, hi, 0, rng.randint(lo, hi), rng.randint(lo, hi)]) for _ in range(count)]


@pytest.mark.parametrize("a_shape,b_shape,latency", [
    (signed(18), signed(18), 2),          # one multiplier
    (unsigned(16), signed(16), 2),
    (signed(12), unsigned(17), 2),
    (unsigned(18), unsigned(18), 2),
    (unsigned(20), unsigned(41), 5),      # the CFAR's scale * sum: 2 x 3 pieces
    (signed(30), signed(19), 4),
    (signed(5), unsigned(40), 4),
])
def test_multiply_is_exact_under_stalls(a_shape, b_shape, latency):
    assert product_latency(Shape.cast(a_shape), Shape.cast(b_shape)) == latency
    m = Module()
    a, b, en = Signal(a_shape), Signal(b_shape), Signal()
    product, got_latency = multiply(m, en, a, b, "x")
    assert got_latency == latency
    assert len(product) == len(a) + len(b)
    rng = random.Random(len(a) * 100 + len(b))
    pairs = list(zip(_extremes(a_shape, rng, 300), _extremes(b_shape, rng, 300)))
    out = []

    async def bench(ctx):
        queue = list(pairs) + [(0, 0)] * latency
        enabled = 0
        while queue:
            step = rng.random() < 0.7
            ctx.set(en, step)
            if step:
                x, y = queue.pop(0)
                ctx.set(a, x)
                ctx.set(b, y)
            await ctx.tick()
            if step:
                enabled += 1
                if enabled >= latency:
                    out.append(ctx.get(product))

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert out[:len(pairs)] == [x * y for x, y in pairs]
