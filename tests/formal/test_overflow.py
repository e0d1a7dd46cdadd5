"""Formal proofs that the FFT butterfly and the CA-CFAR window sum cannot overflow.

The FFT butterfly builds no saturation for a sum or difference of two internal
words where its stage's dropped bits make it unnecessary
(``_butterfly_fits``: ``_round(..., fits=True)`` keeps the low ``w`` bits).
Proved here at small ``w`` for every such stage (2 bits dropped, or 1
truncated). The proof found that with 1 bit rounded half to even,
``(2**(w-1) - 1) - (-2**(w-1)) = 2**w - 1`` rounds up to ``2**(w-1)``, which an
unsaturated path wraps to ``-2**(w-1)``, a silent sign flip where the model
saturates: such stages now saturate, and a test shows the proof still finds the
wrap if they did not.

The CA-CFAR keeps running sums of its reference cells in registers sized to
their largest value: proved at a line of 6 cells, 1 reference and 1 guard
cell, 3-bit power, by checking every detection's power and threshold against
the exact window sum of the cells that went in.
"""

import pytest
from amaranth import Array, Module, Mux, Signal, signed
from amaranth.hdl import Assert, Assume
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from amaradar.hdl.compress.fft import _butterfly_fits, _round
from amaradar.hdl.detect.ca_cfar import CaCfar
from amaradar.hdl.formats import CFAR_SCALE_FRAC
from amaradar.sim.engines.formal import prove, prove_stream


class _ButterflyRounding(wiring.Component):
    """``a ± b`` through the butterfly's unsaturated path equals the saturating one,
    which never saturates; ``symmetric`` leaves out the most negative word."""

    def __init__(self, *, width, shift, rounding, symmetric=False):
        self._width, self._shift, self._rounding = width, shift, rounding
        self._symmetric = symmetric
        super().__init__({"a": In(signed(width)), "b": In(signed(width))})

    def elaborate(self, platform):
        m = Module()
        if self._symmetric:
            lowest = -1 << (self._width - 1)
            m.d.comb += Assume((self.a != lowest) & (self.b != lowest))
        for value in (self.a + self.b, self.a - self.b):
            kept, _ = _round(value, self._shift, self._rounding, self._width, fits=True)
            exact, overflowed = _round(value, self._shift, self._rounding, self._width)
            m.d.comb += [Assert(~overflowed), Assert(kept == exact)]
        return m


@pytest.mark.parametrize("width", [4, 8])
@pytest.mark.parametrize("shift, rounding, symmetric", [
    (1, "truncate", False),
    (2, "half_even", False),
    (2, "truncate", False),
    (1, "half_even", True),
])
def test_butterfly_sum_fits_where_no_saturation_is_built(width, shift, rounding, symmetric,
                                                          tmp_path):
    assert _butterfly_fits(shift, rounding) or symmetric
    result = prove(_ButterflyRounding(width=width, shift=shift, rounding=rounding,
                                      symmetric=symmetric), mode="bmc", depth=1, workdir=tmp_path)
    assert result.status == "PASS", result.log[-2000:]
    assert result.counts["assert"] == 4


@pytest.mark.parametrize("width", [4, 8])
def test_one_bit_rounded_half_even_would_wrap_so_it_saturates(width, tmp_path):
    """Without the most negative word excluded, max - min wraps: the proof fails, and
    the butterfly builds the saturation for such a stage."""
    assert not _butterfly_fits(1, "half_even")
    result = prove(_ButterflyRounding(width=width, shift=1, rounding="half_even"), mode="bmc",
                   depth=1, workdir=tmp_path)
    assert result.status == "FAIL"


def test_butterfly_sum_overflows_without_the_dropped_bit(tmp_path):
    """The same proof fails where the claim is false (no bit dropped)."""
    result = prove(_ButterflyRounding(width=4, shift=0, rounding="half_even"), mode="bmc",
                   depth=1, workdir=tmp_path)
    assert result.status == "FAIL"


def _cfar_threshold(m, dut, *, length, guard):
    """Each detection's power and threshold against the exact window sum of the
    cells that entered (two lines kept, chosen by the pulse's parity), with
    ``guard`` guard cells."""
    r, g, p = dut.reference_cells, guard, dut.power_width
    lines = [[Signal(p, name=f"line{n}_cell{k}") for k in range(length)] for n in range(2)]
    position, parity = Signal(range(length)), Signal()
    with m.If(dut.i.valid & dut.i.ready):
        for n in range(2):
            for k in range(length):
                with m.If((parity == n) & (position == k)):
                    m.d.sync += lines[n][k].eq(dut.i.payload.data)
        with m.If(dut.i.payload.last):
            m.d.sync += [position.eq(0), parity.eq(~parity)]
        with m.Else():
            m.d.sync += position.eq(position + 1)
    out = dut.o.payload
    line = Array(Array(cells) for cells in lines)[out.pulse[0]]
    k = out.range_bin
    total = sum(line[k - g - j] + line[k + g + j] for j in range(1, r + 1))
    product = dut.scale * total
    threshold = Mux(product >> CFAR_SCALE_FRAC > (1 << p) - 1, (1 << p) - 1,
                    product >> CFAR_SCALE_FRAC)
    detected = dut.o.valid
    return {
        "detected power is the cell's": ~detected | (out.power == line[k]),
        "threshold is scale times the exact window sum": ~detected | (out.threshold == threshold),
        "power exceeds the exact threshold": ~detected | ((out.power << CFAR_SCALE_FRAC) > product),
    }


def _prove_cfar_sum(tmp_path, *, guard, cover_depth):
    length = 6
    dut = CaCfar(line_length=length, reference_cells=1, guard_cells=1, power_width=3)
    return prove_stream(dut, mode="bmc", depth=14, cover_depth=cover_depth, workdir=tmp_path,
                        frame=(length, 2), conservation=None,
                        properties=lambda m, dut: _cfar_threshold(m, dut, length=length,
                                                                  guard=guard))


def test_ca_cfar_window_sum_is_exact(tmp_path):
    # the covers (detections on consecutive clocks) show the checks meet detections
    result = _prove_cfar_sum(tmp_path, guard=1, cover_depth=14)
    assert result.status == "PASS", (result.failed, result.log[-2000:])
    assert result.counts["assert"] == 6 and result.counts["cover"] == 2


def test_ca_cfar_window_sum_check_can_fail(tmp_path):
    """The same check with the window placed one cell wrong fails."""
    result = _prove_cfar_sum(tmp_path, guard=0, cover_depth=None)
    assert result.status == "FAIL"
    assert result.failed == ["threshold is scale times the exact window sum"]
