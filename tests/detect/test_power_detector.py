"""PowerDetector: model exact against Python ints, gateware bit-exact to the model."""

from fractions import Fraction

import numpy as np
import pytest
from amaranth import unsigned

from amaradar.hdl.formats import complex_layout, framed_layout, pack
from amaradar.hdl.detect.power_detector import PowerDetector
from amaradar.sim.models.detect.power_detector import power, power_ideal

from amaradar.sim.engines.streams import cocotb_stream, simulate_stream, trace_unstalled


def _extremes(width):
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    corners = sorted({c for c in (lo, lo + 1, -1, 0, 1, hi - 1, hi) if lo <= c <= hi})
    return np.array([complex(a, b) for a in corners for b in corners])


@pytest.mark.parametrize("width", [1, 2, 12, 18, 31])
@pytest.mark.parametrize("shift,rounding", [(0, "half_even"), (1, "half_even"), (5, "truncate"),
                                            (5, "half_even")])
def test_model_exact_against_python_ints(width, shift, rounding):
    if shift >= 2 * width:
        pytest.skip("shift beyond the power width")
    x = _extremes(width)
    p, over = power(x, sample_width=width, shift=shift, rounding=rounding)
    exact = [int(v.real)**2 + int(v.imag)**2 for v in x]
    if rounding == "truncate":
        expected = [v >> shift for v in exact]
    else:
        expected = [round(Fraction(v, 1 << shift)) for v in exact]
    assert p.tolist() == expected
    assert not over  # the default output width is exact
    assert max(expected) == 1 << (2 * width - 1 - shift)  # reached by (-2^(w-1), -2^(w-1))
    np.testing.assert_allclose(p, power_ideal(x) / 2**shift, atol=0.5 if shift else 0)


def test_model_saturates_and_reports():
    x = np.array([[-2048 - 2048j, 3 + 4j], [0, 100 - 7j]])
    p, over = power(x, sample_width=12, shift=4, output_width=19)
    assert over
    np.testing.assert_array_equal(p, [[2**19 - 1, 2], [0, 628]])  # 25/16 -> 2; 10049/16 -> 628
    assert not power(x[:, 1:], sample_width=12, shift=4, output_width=19)[1]


@pytest.mark.parametrize("kwargs,error,message", [
    ({"sample_width": 0}, TypeError, "sample_width must be a positive integer, not 0"),
    ({"sample_width": 12, "shift": 24}, ValueError, "shift must be between 0 and 23, not 24"),
    ({"sample_width": 12, "shift": -1}, ValueError, "shift must be between 0 and 23, not -1"),
    ({"sample_width": 12, "rounding": "nearest"}, ValueError,
     "rounding must be one of ('truncate', 'half_even'), not 'nearest'"),
    ({"sample_width": 12, "output_width": 0}, TypeError,
     "output_width must be a positive integer, not 0"),
])
def test_parameter_errors(kwargs, error, message):
    with pytest.raises(error) as info:
        PowerDetector(**kwargs)
    assert str(info.value) == message


def _stimulus(rng, width, count, shift, rounding, output_width):
    lo, hi = -(1 << (width - 1)), (1 << (width - 1))
    x = rng.integers(lo, hi, count) + 1j * rng.integers(lo, hi, count)
    corners = _extremes(width)
    x[:len(corners)] = corners
    flags = {name: rng.integers(0, 2, count) for name in ("first", "last", "cpi_end")}
    p, over = power(x, sample_width=width, shift=shift, rounding=rounding,
                    output_width=output_width)
    words = pack(framed_layout(complex_layout(width)), **{"data.i": x.real, "data.q": x.imag},
                 **flags)
    dut = PowerDetector(sample_width=width, shift=shift, rounding=rounding,
                        output_width=output_width)
    expected = pack(framed_layout(unsigned(dut.o.payload.data.shape().width)), data=p, **flags)
    return dut, words, expected, over


@pytest.mark.parametrize("width,shift,rounding,output_width,p_stall", [
    (12, 0, "half_even", None, 0.3),
    (12, 7, "half_even", None, 0.6),
    (9, 3, "truncate", 12, 0.2),
    (18, 11, "half_even", 20, 0.0),
])
def test_gateware_bit_exact_with_stalls(width, shift, rounding, output_width, p_stall):
    rng = np.random.default_rng(width + shift)
    dut, words, expected, _ = _stimulus(rng, width, 400, shift, rounding, output_width)
    out = simulate_stream(dut, words, len(words), p_in_stall=p_stall, p_out_stall=p_stall, seed=5)
    assert out == expected


def test_latency_and_sticky_overflow():
    layout = framed_layout(complex_layout(12))
    words = pack(layout, **{"data.i": [100, 2047, 0], "data.q": [0, 2047, 0]})
    fits = PowerDetector(sample_width=12, shift=4)
    trace = trace_unstalled(fits, words, len(words) + 10)
    assert [v for _, v, _ in trace].index(1) == fits.latency  # transferred at edge ``latency``
    assert not any(over for _, _, over in trace)
    dut = PowerDetector(sample_width=12, shift=4, output_width=16)  # 100**2/16 fits, 2*2047**2/16 not
    trace = trace_unstalled(dut, words, len(words) + 10)
    rise = [over for _, _, over in trace].index(1)
    assert rise == dut.latency + 1  # with the second output being offered
    assert all(over for _, _, over in trace[rise:])


def test_gateware_cocotb():
    rng = np.random.default_rng(21)
    dut, words, expected, over = _stimulus(rng, 14, 3000, 9, "half_even", 16)
    assert over  # some of the samples saturate
    out = cocotb_stream(dut, "power_detector_14_9_16", words, len(words), seed=22)
    assert out == expected
