import numpy as np
import pytest
from amaranth.sim import Simulator

from amaradar.hdl.detect.ca_cfar import CaCfar
from amaradar.hdl.formats import CFAR_SCALE_FRAC, framed_layout, pack
from amaradar.sim.models.detect.ca_cfar import (DETECTION_DTYPE, ca_cfar, ca_cfar_ideal, cfar_scale)
from amaranth import unsigned

from amaradar.sim.engines.streams import cocotb_stream, simulate_stream
from amaradar.spec.records import CPI_WIDTH, PULSE_WIDTH


def brute_force(lines, r, g, scale, cpi=0, first_pulse=0):
    """The detection rule written out cell by cell in Python integers."""
    out = []
    for m, line in enumerate(lines):
        line = [int(v) for v in line]
        for k in range(r + g, len(line) - r - g):
            s = sum(line[k - g - r:k - g]) + sum(line[k + g + 1:k + g + r + 1])
            if line[k] << CFAR_SCALE_FRAC > scale * s:
                pulse = min(first_pulse + m, (1 << PULSE_WIDTH) - 1)
                out.append((cpi % (1 << CPI_WIDTH), pulse, k, line[k],
                            (scale * s) >> CFAR_SCALE_FRAC))
    return out


def noisy_lines(rng, lengths, *, mean=1000, targets=3):
    """Exponential noise (integer) with a few point targets and one extended target."""
    lines = []
    for length in lengths:
        x = rng.exponential(mean, length)
        for k in rng.integers(0, length, targets):
            x[k] += mean * rng.uniform(5, 60)
        if length > 12:                           # a target spread over range: dense hits
            start = rng.integers(0, length - 6)
            x[start:start + 6] += mean * 40
        lines.append(np.round(x).astype(np.int64))
    return lines


# ---------------------------------------------------------------- model

@pytest.mark.parametrize("r,g", [(1, 0), (4, 2), (8, 1), (3, 5)])
def test_model_matches_brute_force(r, g):
    rng = np.random.default_rng(r * 10 + g)
    lines = noisy_lines(rng, [5, 2 * (r + g), 2 * (r + g) + 1, 40, 77, 120])
    scale = cfar_scale(r, 0.2)
    det = ca_cfar(lines, reference_cells=r, guard_cells=g, scale=scale, cpi=70000,
                  first_pulse=4093)
    expect = brute_force(lines, r, g, scale, cpi=70000, first_pulse=4093)
    assert len(expect) > 10
    assert [tuple(int(v) for v in d) for d in det] == expect
    assert det.dtype == DETECTION_DTYPE


@pytest.mark.parametrize("r,g", [(1, 0), (4, 2), (3, 1)])
def test_model_peaks_are_the_local_maxima_among_detections(r, g):
    # peaks=True keeps exactly the detected cells with x[k] >= x[k-1] and
    # x[k] > x[k+1], so a run of adjacent detected cells gives fewer reports.
    rng = np.random.default_rng(40 + r)
    lines = noisy_lines(rng, [60, 90, 2 * (r + g) + 1, 120])
    scale = cfar_scale(r, 0.2)
    every = ca_cfar(lines, reference_cells=r, guard_cells=g, scale=scale)
    peaks = ca_cfar(lines, reference_cells=r, guard_cells=g, scale=scale, peaks=True)
    kept = [d for d in every if lines[d["pulse"]][d["range_bin"] - 1] <= d["power"]
            > lines[d["pulse"]][d["range_bin"] + 1]]
    assert [tuple(d) for d in peaks] == [tuple(d) for d in kept]
    adjacent = (np.diff(every["range_bin"]) == 1) & (np.diff(every["pulse"]) == 0)
    assert 0 < len(peaks) < len(every) if adjacent.any() else 0 < len(peaks) == len(every)


def test_model_2d_equals_lines_and_cuts_long_lines():
    rng = np.random.default_rng(5)
    x = np.array(noisy_lines(rng, [90] * 4))
    kw = dict(reference_cells=4, guard_cells=2, scale=cfar_scale(4, 1e-2))
    assert np.array_equal(ca_cfar(x, **kw), ca_cfar(list(x), **kw))
    assert np.array_equal(ca_cfar(x[2], first_pulse=2, **kw),
                          ca_cfar(x, **kw)[ca_cfar(x, **kw)["pulse"] == 2])
    assert np.array_equal(ca_cfar(x, line_length=50, **kw), ca_cfar(x[:, :50], **kw))


def test_model_equals_ideal_with_quantised_alpha():
    rng = np.random.default_rng(6)
    x = np.round(rng.exponential(2.0 ** 20, (50, 400))).astype(np.int64)
    x[:, ::37] *= 20
    r, g, scale = 6, 2, cfar_scale(6, 1e-3)
    det = ca_cfar(x, reference_cells=r, guard_cells=g, scale=scale)
    mask = ca_cfar_ideal(x, reference_cells=r, guard_cells=g,
                         alpha=scale * 2 * r / 2.0 ** CFAR_SCALE_FRAC)
    rows, cols = np.nonzero(mask)
    assert len(det) > 100
    assert np.array_equal(det["pulse"], rows) and np.array_equal(det["range_bin"], cols)
    assert np.all(det["threshold"] < det["power"])


def test_cfar_scale_and_model_errors():
    assert cfar_scale(8, 1e-3) == round(8.638824416951874 / 16 * 2 ** CFAR_SCALE_FRAC)
    with pytest.raises(ValueError, match=r"^pfa=1e-12 with reference_cells=1 needs scale word "
                                         r"\d+, more than CFAR_SCALE_WIDTH=20 bits hold$"):
        cfar_scale(1, 1e-12)
    with pytest.raises(ValueError, match=r"^pfa must be in \(0, 1\), not 1.5$"):
        cfar_scale(4, 1.5)
    with pytest.raises(ValueError, match=r"^reference_cells must be >= 1, not 0$"):
        ca_cfar(np.zeros(20, np.int64), reference_cells=0, guard_cells=0, scale=1)
    with pytest.raises(ValueError, match=r"^scale must be in \[0, 2\*\*20\), not 1048576$"):
        ca_cfar(np.zeros(20, np.int64), reference_cells=1, guard_cells=0, scale=1 << 20)
    with pytest.raises(ValueError, match=r"^power must be non-negative$"):
        ca_cfar(-np.ones(20, np.int64), reference_cells=1, guard_cells=0, scale=1)


# ---------------------------------------------------------------- gateware

@pytest.mark.parametrize("kwargs,exc,msg", [
    (dict(reference_cells=0), ValueError, "reference_cells must be >= 1, not 0"),
    (dict(reference_cells=2.0), TypeError, "reference_cells must be an integer, not 2.0"),
    (dict(guard_cells=-1), ValueError, "guard_cells must be >= 0, not -1"),
    (dict(power_width=0), ValueError, "power_width must be >= 1, not 0"),
    (dict(line_length=12), ValueError,
     "line_length must be >= 2*(reference_cells + guard_cells) + 1 = 13, not 12"),
    (dict(line_length="64"), TypeError, "line_length must be an integer, not '64'"),
    (dict(peaks=1), TypeError, "peaks must be True or False, not 1"),
])
def test_parameter_errors(kwargs, exc, msg):
    args = dict(line_length=64, reference_cells=4, guard_cells=2, power_width=24) | kwargs
    with pytest.raises(exc) as info:
        CaCfar(**args)
    assert str(info.value) == msg


def test_range_bits():
    assert CaCfar(line_length=64, reference_cells=4, guard_cells=2, power_width=8).range_bits == 6
    assert CaCfar(line_length=65, reference_cells=4, guard_cells=2, power_width=8).range_bits == 7


def frame(cpis, power_width, mark_first=True):
    """Input words for a list of CPIs, each a list of lines."""
    data, first, last, cpi_end = [], [], [], []
    for lines in cpis:
        for m, line in enumerate(lines):
            n = len(line)
            data += list(line)
            first += [int(mark_first)] + [0] * (n - 1)
            last += [0] * (n - 1) + [1]
            cpi_end += [0] * (n - 1) + [int(m == len(lines) - 1)]
    return pack(framed_layout(unsigned(power_width)), data=data, first=first, last=last,
                cpi_end=cpi_end)


def expected(dut, cpis, scale):
    det = np.concatenate([ca_cfar(lines, reference_cells=dut.reference_cells,
                                  guard_cells=dut.guard_cells, scale=scale, cpi=c,
                                  line_length=dut.line_length, peaks=dut.peaks)
                          for c, lines in enumerate(cpis)])
    words = pack(dut.o.payload.shape(), **{f: det[f] for f in DETECTION_DTYPE.names})
    return words, det


def small_cpis(seed):
    rng = np.random.default_rng(seed)
    # two CPIs: 3 lines (one shorter than the 13-cell window) and 2 lines
    return [noisy_lines(rng, [40, 9, 64]), noisy_lines(rng, [57, 48])]


@pytest.mark.parametrize("p_stall, peaks", [(0.0, False), (0.3, False), (0.7, False),
                                            (0.0, True), (0.5, True)])
def test_amaranth_sim_bit_exact(p_stall, peaks):
    dut = CaCfar(line_length=64, reference_cells=4, guard_cells=2, power_width=24, peaks=peaks)
    cpis = small_cpis(11)
    scale = cfar_scale(4, 0.05)
    words, det = expected(dut, cpis, scale)
    assert len(det) > (8 if peaks else 15)
    assert set(det["cpi"]) == {0, 1} and set(det["pulse"]) == {0, 1, 2}
    if not peaks:
        assert np.any(np.diff(det["range_bin"]) == 1)  # back-to-back detections occur
    out = simulate_stream(dut, frame(cpis, 24), len(words), ports={"scale": scale},
                          p_in_stall=p_stall, p_out_stall=p_stall, seed=int(p_stall * 10))
    assert out == words


def test_amaranth_sim_every_cell_detected():
    """scale = 0: every tested cell with power > 0 (strictly) is a detection: dense output.

    The lines carry no ``first`` marker here: ``last`` alone delimits them.
    """
    dut = CaCfar(line_length=64, reference_cells=4, guard_cells=2, power_width=24)
    cpis = small_cpis(12)
    for line in cpis[0] + cpis[1]:
        line[::7] = 0                                   # ties 0 * 2**F == 0 * S: not detected
    words, det = expected(dut, cpis, 0)
    tested = [line[6:len(line) - 6] for line in cpis[0] + cpis[1]]
    assert len(det) == sum(np.count_nonzero(t) for t in tested) < sum(len(t) for t in tested)
    out = simulate_stream(dut, frame(cpis, 24, mark_first=False), len(words), ports={"scale": 0},
                          p_in_stall=0.2, p_out_stall=0.5, seed=3)
    assert out == words


def test_amaranth_sim_long_line_and_status_flags():
    """A line longer than line_length is cut; more than 2**PULSE_WIDTH lines saturate pulse."""
    dut = CaCfar(line_length=48, reference_cells=2, guard_cells=1, power_width=16)
    rng = np.random.default_rng(13)
    long_cpi = noisy_lines(rng, [48, 60, 30])
    scale = cfar_scale(2, 1e-2)
    words, det = expected(dut, [long_cpi], scale)
    assert len(det) and det[det["pulse"] == 1]["range_bin"].max() <= 48 - 1 - 3
    assert len(ca_cfar(long_cpi[1], reference_cells=2, guard_cells=1, scale=scale)) > \
        np.count_nonzero(det["pulse"] == 1)
    # then a CPI of 2**PULSE_WIDTH one-sample lines and one more line with a target
    n_short = 1 << PULSE_WIDTH
    target = np.array([10, 10, 10, 10, 5000, 10, 10, 10, 10], dtype=np.int64)
    inputs = frame([long_cpi], 16) + frame([[np.array([7])] * n_short + [target]], 16)
    words.append(pack(dut.o.payload.shape(), cpi=[1], pulse=[(1 << PULSE_WIDTH) - 1],
                      range_bin=[4], power=[5000], threshold=[(scale * 40) >> 16])[0])
    flags = []

    async def bench(ctx):
        ctx.set(dut.scale, scale)
        ctx.set(dut.o.ready, 1)
        out = []
        for n, word in enumerate(inputs):
            ctx.set(dut.i.payload.as_value(), word)
            ctx.set(dut.i.valid, 1)
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload.as_value())
            out += [payload] if valid else []
            if n == 48 + 47:
                flags.append((ctx.get(dut.line_too_long), ctx.get(dut.pulse_overflow)))
        ctx.set(dut.i.valid, 0)
        for _ in range(6):
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid, dut.o.payload.as_value())
            out += [payload] if valid else []
        flags.append((ctx.get(dut.line_too_long), ctx.get(dut.pulse_overflow)))
        assert out == words

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert flags == [(0, 0), (1, 1)]


@pytest.mark.parametrize("peaks", [False, True])
def test_cocotb_bit_exact(peaks):
    dut = CaCfar(line_length=512, reference_cells=16, guard_cells=3, power_width=24, peaks=peaks)
    rng = np.random.default_rng(21)
    cpis = [noisy_lines(rng, [500, 500], targets=8), noisy_lines(rng, [500, 470, 500], targets=8)]
    scale = cfar_scale(16, 1e-3)
    words, det = expected(dut, cpis, scale)
    assert len(det) > 30
    out = cocotb_stream(dut, f"ca_cfar_r16_g3{'_peaks' if peaks else ''}", frame(cpis, 24),
                        len(words), ports={"scale": scale}, seed=22)
    assert out == words
