# amaranth: UnusedElaboratable=no

import numpy as np
import pytest

from amaradar.hdl.waveform.barker_code import BarkerCode
from amaradar.hdl.formats import complex_layout, framed_layout, unpack
from amaradar.sim.models.waveform.barker_code import barker13

from amaradar.sim.engines.streams import cocotb_stream, simulate_stream


@pytest.mark.parametrize("chip_samples, width", [(1, 12), (3, 8), (5, 2)])
def test_model_values(chip_samples, width):
    i, q = barker13(chip_samples=chip_samples, width=width)
    peak = 2 ** (width - 1) - 1
    assert i.dtype == q.dtype == np.int64
    assert i.shape == q.shape == (13 * chip_samples,)
    assert not q.any()
    chips = i.reshape(13, chip_samples)
    assert np.all(chips == chips[:, :1])
    assert "".join("+" if c > 0 else "-" for c in chips[:, 0]) == "+++++--++-+-+"
    assert set(np.abs(i).tolist()) == {peak}


def test_barker_autocorrelation_peak_13_sidelobes_at_most_1():
    # Aperiodic autocorrelation of the chip sequence: 13 at lag 0, |r| <= 1 elsewhere.
    i, _ = barker13(chip_samples=1, width=12)
    peak = 2 ** 11 - 1
    r = np.correlate(i, i, mode="full")
    assert r[12] == 13 * peak ** 2
    assert np.abs(np.delete(r, 12)).max() == peak ** 2


@pytest.mark.parametrize("chip_samples", [2, 4])
def test_oversampled_autocorrelation_scaling(chip_samples):
    # With c samples per chip the autocorrelation is the chip autocorrelation
    # interpolated linearly between multiples of c and scaled by c*A**2: peak 13*c*A**2,
    # every sidelobe (lag >= c) at most c*A**2 in magnitude; at lag m*c it equals
    # c*A**2 * r_chip[m].
    i, _ = barker13(chip_samples=chip_samples, width=10)
    peak = 2 ** 9 - 1
    r = np.correlate(i, i, mode="full")
    centre = len(i) - 1
    scale = chip_samples * peak ** 2
    assert r[centre] == 13 * scale
    assert np.abs(r[centre + chip_samples:]).max() <= scale
    chip_r = np.correlate(np.sign(i[::chip_samples]), np.sign(i[::chip_samples]), mode="full")
    np.testing.assert_array_equal(r[centre::chip_samples], scale * chip_r[12:])


CASES = [(1, 12), (3, 6)]


def _check(words, chip_samples, width, count):
    i, q = barker13(chip_samples=chip_samples, width=width)
    got = unpack(framed_layout(complex_layout(width)), words)
    length = 13 * chip_samples
    k = np.arange(count) % length
    np.testing.assert_array_equal(got["data.i"], i[k])
    np.testing.assert_array_equal(got["data.q"], q[k])
    np.testing.assert_array_equal(got["first"], k == 0)
    np.testing.assert_array_equal(got["last"], k == length - 1)
    assert not got["cpi_end"].any()


@pytest.mark.parametrize("p_stall", [0.0, 0.5, 0.8])
@pytest.mark.parametrize("chip_samples, width", CASES)
def test_gateware_matches_model(chip_samples, width, p_stall):
    count = 3 * 13 * chip_samples + 5
    words = simulate_stream(BarkerCode(chip_samples=chip_samples, width=width), None, count,
                            p_out_stall=p_stall, seed=chip_samples)
    _check(words, chip_samples, width, count)


@pytest.mark.parametrize("chip_samples, width", CASES)
def test_gateware_cocotb(chip_samples, width):
    count = 4 * 13 * chip_samples + 2
    words = cocotb_stream(BarkerCode(chip_samples=chip_samples, width=width),
                          f"barker_code_c{chip_samples}_w{width}", None, count, p_out_stall=0.4,
                          seed=7)
    _check(words, chip_samples, width, count)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"chip_samples": 0}, ValueError, "chip_samples must be >= 1, not 0"),
    ({"chip_samples": 1.5}, TypeError, "chip_samples must be an integer, not 1.5"),
    ({"width": 1}, ValueError, "width must be between 2 and 32, not 1"),
    ({"width": "12"}, TypeError, "width must be an integer, not '12'"),
])
@pytest.mark.parametrize("build", [BarkerCode, barker13], ids=["hdl", "model"])
def test_parameter_errors(build, kwargs, error, message):
    with pytest.raises(error) as info:
        build(**{"chip_samples": 2, **kwargs})
    assert str(info.value) == message
