# amaranth: UnusedElaboratable=no

from collections import deque

import numpy as np
import pytest
from amaranth import Value
from amaranth.sim import Simulator
from scipy import signal

from amaradar.hdl.detect.plot_extractor import (LOG2_FRAC, LOG2_INDEX_BITS, PlotExtractor,
                                                log2_fraction_table)
from amaradar.hdl.formats import pack
from amaradar.sim.engines.streams import cocotb_stream, simulate_stream
from amaradar.sim.models.compress.matched_filter import matched_filter_taps
from amaradar.sim.models.detect.plot_extractor import (
    HIT_WORD_DTYPE, hit_words, interpolate_ideal, log2_fixed, map_hits,
    parabola_offset, plot_extractor)
from amaradar.spec.records import POSITION_FRAC

HALF = 1 << (POSITION_FRAC - 1)
TABLE = log2_fraction_table()


# ---------------------------------------------------------------- references

def brute_log2(x):
    """The fixed-point log2, written out on one Python integer."""
    if x == 0:
        return 0
    e = x.bit_length() - 1
    return (e << LOG2_FRAC) + TABLE[((x << LOG2_INDEX_BITS) >> e) & ((1 << LOG2_INDEX_BITS) - 1)]


def brute_offset(before, peak, after):
    la, lb, lc = brute_log2(before), brute_log2(peak), brute_log2(after)
    n, d = lc - la, 2 * lb - la - lc
    sign = (n > 0) - (n < 0)
    if d <= 0 or abs(n) >= d:
        return sign * HALF
    return sign * (abs(n) * HALF // d)


def brute_plots(hits, m, cpi):
    """Connected components by flood fill over the set of hit cells (8-connected,
    Doppler circular), the peak (largest power, then lowest range, then lowest
    Doppler) and its interpolated position: ``(cpi, range_pos, doppler_pos, power,
    threshold)`` per cluster, sorted."""
    cells = {(int(h["range_bin"]), int(h["doppler_bin"])): h for h in hits}
    seen, plots = set(), []
    for start in cells:
        if start in seen:
            continue
        seen.add(start)
        todo, members = deque([start]), []
        while todo:
            r, d = todo.popleft()
            members.append((r, d))
            for dr in (-1, 0, 1):
                for dd in (-1, 0, 1):
                    other = (r + dr, (d + dd) % m)
                    if other in cells and other not in seen:
                        seen.add(other)
                        todo.append(other)
        r, d = min(members, key=lambda c: (-int(cells[c]["power"]), c))
        h = cells[(r, d)]
        rpos = max(0, (r << POSITION_FRAC) + brute_offset(
            int(h["range_before"]), int(h["power"]), int(h["range_after"])))
        dpos = ((d << POSITION_FRAC) + brute_offset(
            int(h["doppler_before"]), int(h["power"]), int(h["doppler_after"]))) % \
            (m << POSITION_FRAC)
        plots.append((cpi, rpos, dpos, int(h["power"]), int(h["threshold"])))
    return sorted(plots)


def model_cpis(out):
    """The model's output words split per CPI: [(cpi, sorted plot tuples), ...]."""
    result, current = [], []
    for w in out:
        if w["cpi_end"]:
            result.append((int(w["cpi"]), sorted(current)))
            current = []
        else:
            current.append(tuple(int(w[f]) for f in ("cpi", "range_pos", "doppler_pos",
                                                      "power", "threshold")))
    assert not current, "plots after the last cpi_end"
    return result


def random_map(rng, shape, density, top=20):
    """A random hit map: powers 1 ... top (ties are common), random neighbours."""
    power = rng.integers(1, top + 1, shape)
    return power, rng.random(shape) < density


def shape_map(cells, shape, rng):
    """Random powers, hits at ``cells`` (a negative Doppler bin counts from M)."""
    mask = np.zeros(shape, dtype=bool)
    for r, d in cells:
        mask[r, d % shape[1]] = True
    return rng.integers(1, 1000, shape), mask


# Hand-made cluster shapes (Doppler bin -1 is M - 1): (cells, clusters on an 8 x 8 map)
SHAPES = {
    "doppler_wrap": ([(2, -1), (2, 0), (3, 0)], 1),
    "wrap_diagonal": ([(1, 0), (2, -1), (4, -1), (5, 0)], 2),
    "l_shape": ([(1, 3), (2, 3), (3, 3), (3, 4), (3, 5)], 1),
    "diagonal": ([(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)], 1),
    "two_in_one_row": ([(3, 1), (3, 2), (3, 5), (4, 5)], 2),
    "u_merge": ([(1, 1), (1, 5), (2, 1), (2, 5), (3, 2), (3, 3), (3, 4)], 1),
    "v_merge_diagonal": ([(1, 2), (1, 4), (2, 3)], 1),
    "merge_across_wrap": ([(1, -2), (1, 1), (2, -1), (2, 0)], 1),
    "comb": ([(0, 0), (0, 2), (0, 4), (0, 6), (1, 0), (1, 1), (1, 2), (1, 3), (1, 4),
              (1, 5), (1, 6), (1, 7)], 1),
    "gap_row": ([(1, 3), (3, 3), (3, 4)], 2),
    "full_row": ([(5, d) for d in range(8)] + [(6, 3)], 1),
}


# ---------------------------------------------------------------- model

def test_log2_fixed_matches_brute_force_and_is_accurate():
    x = np.concatenate([np.arange(0, 300), np.array([2 ** k + j for k in range(8, 48)
                                                     for j in (-1, 0, 1, 12345)])])
    x = x[x >= 0]
    got = log2_fixed(x)
    assert [int(v) for v in got] == [brute_log2(int(v)) for v in x]
    err = got[1:] / 2.0 ** LOG2_FRAC - np.log2(x[1:])
    assert np.abs(err).max() < 2.0 ** -LOG2_INDEX_BITS and got[0] == 0
    assert max(TABLE) < 1 << LOG2_FRAC


def test_parabola_offset_rules():
    rng = np.random.default_rng(1)
    before, peak, after = rng.integers(0, 1 << 30, (3, 2000))
    peak[:500] = np.maximum(peak[:500], np.maximum(before[:500], after[:500]))
    before[-20:] = after[-20:]                           # symmetric: offset 0
    got = parabola_offset(before, peak, after)
    assert [int(v) for v in got] == [brute_offset(int(a), int(b), int(c))
                                     for a, b, c in zip(before, peak, after)]
    assert np.all(np.abs(got) <= HALF) and np.all(got[-20:] == 0)
    # a peak larger than its neighbours moves toward the larger one
    top = got[:500]
    assert np.all((np.sign(top) == np.sign(after[:500] - before[:500])) | (top == 0))
    # no maximum between the neighbours: half a cell toward the larger
    assert list(parabola_offset([10, 1000, 5], [1, 2, 5], [1000, 10, 5])) == [HALF, -HALF, 0]
    # peaks shaped like a mainlobe (a parabola in log power): the fixed point is
    # within 0.02 cell of the ideal float interpolation
    shift, width = rng.uniform(-0.5, 0.5, 2000), rng.uniform(0.3, 3.0, 2000)
    amplitude = 10 ** rng.uniform(3, 13, 2000)
    before, peak, after = (np.round(amplitude * np.exp(-width * (k - shift) ** 2)).astype(np.int64)
                           for k in (-1, 0, 1))
    ideal = interpolate_ideal(before, peak, after)
    assert np.abs(ideal - shift).max() < 0.01            # the powers are rounded
    assert np.abs(parabola_offset(before, peak, after) / 2.0 ** POSITION_FRAC - ideal).max() < 0.02


def test_map_hits_neighbours():
    power = np.arange(12).reshape(3, 4) + 1
    hits = map_hits(power, power % 5 == 0, power * 10, cpi=70000)
    assert hits.dtype.names == HIT_WORD_DTYPE.names[:-1]
    assert [tuple(int(v) for v in h) for h in hits] == [
        # cpi, range, doppler, power, threshold, range -+1, doppler -+1 (circular)
        (70000 % 65536, 1, 0, 5, 50, 1, 9, 8, 6),
        (70000 % 65536, 2, 1, 10, 100, 6, 0, 9, 11)]


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_model_shapes(name):
    cells, clusters = SHAPES[name]
    rng = np.random.default_rng(len(cells))
    power, mask = shape_map(cells, (8, 8), rng)
    hits = map_hits(power, mask, power // 3, cpi=5)
    out, status = plot_extractor(hit_words([(5, hits)]), doppler_bins=8, max_clusters=8)
    assert model_cpis(out) == [(5, brute_plots(hits, 8, 5))]
    assert len(out) == clusters + 1 and status == {"dropped": 0, "overflow": False}


@pytest.mark.parametrize("seed,shape,density", [(0, (24, 16), 0.15), (1, (40, 8), 0.3),
                                                (2, (16, 32), 0.08), (3, (30, 12), 0.45)])
def test_model_matches_brute_force_on_random_maps(seed, shape, density):
    rng = np.random.default_rng(seed)
    cpis = []
    for c in range(3):
        power, mask = random_map(rng, shape, density)
        cpis.append((c + 65534, map_hits(power, mask, power - 1, cpi=c + 65534)))
    m = shape[1]
    out, status = plot_extractor(hit_words(cpis), doppler_bins=m, max_clusters=64)
    assert not status["overflow"]
    expect = [(cpi % 65536, brute_plots(h, m, cpi % 65536)) for cpi, h in cpis]
    assert model_cpis(out) == expect
    sizes = [len(p) for _, p in expect]
    assert min(sizes) >= 3 and sum(sizes) < sum(len(h) for _, h in cpis)


def test_model_order_and_slots():
    """Plots of one boundary leave by slot; slots closed at a boundary are reused
    from the next boundary on; the cpi_end word follows the CPI's plots."""
    cells = [(0, 0), (0, 4), (1, 4), (2, 2), (3, 6)]
    mask = shape_map(cells, (5, 8), np.random.default_rng(3))[1]
    hits = map_hits(np.full(mask.shape, 100), mask)     # equal powers: offsets 0
    out, _ = plot_extractor(hit_words([(1, hits), (2, hits[:0])]), doppler_bins=8,
                            max_clusters=3)
    # (0,0) takes slot 0, (0,4) slot 1, (1,4) joins it; row 2 closes (0,0), and
    # (2,2) takes slot 2 (slot 0 is free only from the next boundary on); row 3
    # closes (0,4), and (3,6) takes slot 0; cpi_end closes slots 0 and 2, in
    # that order.
    rows = [(int(w["cpi_end"]), int(w["range_pos"]) >> POSITION_FRAC,
             int(w["doppler_pos"]) >> POSITION_FRAC) for w in out]
    assert rows == [(0, 0, 0), (0, 0, 4), (0, 3, 6), (0, 2, 2), (1, 0, 0), (1, 0, 0)]
    assert list(out["cpi"]) == [1, 1, 1, 1, 1, 2]


def test_model_overflow_drops_new_clusters():
    cells = [(0, 0), (0, 2), (0, 4), (0, 6), (1, 6), (2, 1)]
    mask = shape_map(cells, (3, 8), np.random.default_rng(4))[1]
    out, status = plot_extractor(hit_words([(0, map_hits(np.full(mask.shape, 7), mask))]),
                                 doppler_bins=8, max_clusters=2)
    # slots for (0,0) and (0,2); (0,4), (0,6) dropped; (1,6) too (its neighbour
    # was dropped, both clusters are open); the row-2 boundary closes both, but
    # their slots are free only from the next boundary on: (2,1) is dropped.
    assert status["overflow"] and status["dropped"] == 4
    assert [int(w["doppler_pos"]) >> POSITION_FRAC for w in out if not w["cpi_end"]] == [0, 2]


# ---------------------------------------------------------------- accuracy

def lfm(t, bt, n, oversample):
    """The unit LFM pulse of ``n`` samples at times ``t`` (in 1/B) from its middle; 0 outside."""
    return np.where(np.abs(t) <= (n - 1) / 2 / oversample, np.exp(1j * np.pi * t ** 2 / bt), 0)


def target_map(rng, range_true, doppler_true, *, snr_db, oversample, lines=64, m=32, bt=20):
    """Range-Doppler power of one target through the processing: each of ``m`` pulses
    (echo at ``range_true`` after compression, Doppler ``doppler_true`` bins, zero at
    ``m/2``) plus complex white noise, compressed by a Hamming-weighted LFM matched
    filter (fs = ``oversample`` * B), then a Hamming-weighted DFT over the pulses.
    Scaled to integers with the processed noise at 1000 LSB² and the target's peak
    ``snr_db`` above it."""
    n = round(bt * oversample)
    middle = (n - 1) / 2
    taps = matched_filter_taps(lfm((np.arange(n) - middle) / oversample, bt, n, oversample),
                               coef_width=16, window=signal.windows.hamming(n), quantize=False)
    # the echo starts at range_true - (n - 1): the compressed peak is at range_true
    echo = lfm((np.arange(lines) - (range_true - (n - 1)) - middle) / oversample, bt, n, oversample)
    window = signal.windows.hamming(m, sym=False)
    doppler = np.exp(2j * np.pi * (doppler_true - m / 2) * np.arange(m) / m)
    gain = np.abs(taps).sum() * window.sum()           # |taps| is the weighting, scaled
    noise_power = np.sum(np.abs(taps) ** 2) * np.sum(window ** 2)
    amplitude = np.sqrt(10 ** (snr_db / 10) * noise_power) / gain
    noise = (rng.standard_normal((m, lines)) + 1j * rng.standard_normal((m, lines))) / np.sqrt(2)
    pulses = amplitude * doppler[:, None] * echo[None, :] + noise
    compressed = np.array([np.convolve(x, taps)[:lines] for x in pulses])
    rd = np.fft.fftshift(np.fft.fft(window[:, None] * compressed, axis=0), axes=0).T
    return np.round(np.abs(rd) ** 2 / noise_power * 1000).astype(np.int64)


@pytest.mark.parametrize("oversample", [1, 2])
def test_accuracy_hamming_20db(oversample):
    """One target at 20 dB after processing, its sub-cell offsets swept over a cell
    in range and Doppler (8 x 8): RMS error of the plot <= 0.1 resolution cell on
    each axis (RADAR_FACTS: about 0.4/sqrt(SNR) = 0.04 from noise, 0.013 bias), a
    range cell being ``oversample`` samples; and within 0.02 cell of the ideal
    float interpolation at the same peak."""
    rng = np.random.default_rng(7)
    errors, ideal_errors = [], []
    offsets = np.arange(8) / 8
    for fr in offsets:
        for fd in offsets:
            rt, dt = 45 + fr, 14 + fd
            power = target_map(rng, rt, dt, snr_db=20, oversample=oversample)
            threshold = np.full(power.shape, 10 * 1000)        # 10 dB over the noise
            hits = map_hits(power, power > threshold, threshold)
            out, _ = plot_extractor(hit_words([(0, hits)]), doppler_bins=32, max_clusters=16)
            plots = out[out["cpi_end"] == 0]
            k = np.argmax(plots["power"])
            errors.append((plots["range_pos"][k] / 256 - rt,
                           (plots["doppler_pos"][k] / 256 - dt + 16) % 32 - 16))
            peak = hits[hits["power"] == plots["power"][k]][0]
            ideal_errors.append((
                peak["range_bin"] + interpolate_ideal(peak["range_before"], peak["power"],
                                                      peak["range_after"]) - rt,
                peak["doppler_bin"] + interpolate_ideal(peak["doppler_before"], peak["power"],
                                                        peak["doppler_after"]) - dt))
    errors, ideal_errors = np.array(errors), np.array(ideal_errors)
    rms = np.sqrt(np.mean(errors ** 2, axis=0)) / [oversample, 1]
    print(f"oversample {oversample}: rms error {rms[0]:.4f} range cell, {rms[1]:.4f} Doppler bin")
    assert np.all(rms <= 0.1) and np.all(rms > 0.02), rms
    assert np.all(np.abs(errors - ideal_errors).max(axis=0) < 0.02)


def test_bias_without_noise_hamming_doppler():
    """Noise-free Doppler peaks of a Hamming-weighted 32-point DFT, offsets swept
    over a bin: the ideal log-parabola's worst bias is 0.013 bin (RADAR_FACTS); the
    fixed point stays within two of its 1/256-bin steps of it."""
    m = 32
    fixed, ideal = [], []
    for f in np.arange(64) / 64:
        tone = signal.windows.hamming(m) * np.exp(2j * np.pi * (5 + f) * np.arange(m) / m)
        power = np.abs(np.fft.fft(tone)) ** 2 * 2 ** 20
        k = int(np.argmax(power))
        before, peak, after = power[k - 1], power[k], power[k + 1]
        ideal.append(k + interpolate_ideal(before, peak, after) - 5 - f)
        fixed.append(k + int(parabola_offset(*np.round([before, peak, after]).astype(np.int64)))
                     / 2 ** POSITION_FRAC - 5 - f)
    fixed, ideal = np.array(fixed), np.array(ideal)
    assert 0.012 < np.abs(ideal).max() < 0.014
    assert np.abs(fixed - ideal).max() < 2 / 2 ** POSITION_FRAC and np.abs(fixed).max() < 0.016


# ---------------------------------------------------------------- gateware

@pytest.mark.parametrize("kwargs,exc,msg", [
    (dict(range_bits=0), ValueError, "range_bits must be between 1 and 16, not 0"),
    (dict(range_bits=17), ValueError, "range_bits must be between 1 and 16, not 17"),
    (dict(doppler_bins=1), ValueError, "doppler_bins must be between 2 and 256, not 1"),
    (dict(doppler_bins=512), ValueError, "doppler_bins must be between 2 and 256, not 512"),
    (dict(doppler_bins=16.0), TypeError, "doppler_bins must be an integer, not 16.0"),
    (dict(power_width=49), ValueError, "power_width must be between 1 and 48, not 49"),
    (dict(max_clusters=0), ValueError, "max_clusters must be between 1 and 64, not 0"),
    (dict(max_clusters="8"), TypeError, "max_clusters must be an integer, not '8'"),
])
def test_parameter_errors(kwargs, exc, msg):
    args = dict(range_bits=8, doppler_bins=16, power_width=24, max_clusters=8) | kwargs
    with pytest.raises(exc) as info:
        PlotExtractor(**args)
    assert str(info.value) == msg


def test_widths():
    dut = PlotExtractor(range_bits=10, doppler_bins=24, power_width=20, max_clusters=5)
    assert (dut.doppler_bits, dut.range_pos_bits, dut.doppler_pos_bits) == (5, 18, 13)
    dut = PlotExtractor(range_bits=16, doppler_bins=256, power_width=48, max_clusters=64)
    assert (dut.doppler_bits, dut.range_pos_bits, dut.doppler_pos_bits) == (8, 24, 16)


def stream_words(dut, words):
    columns = {f"hit.{name}": words[name] for name in words.dtype.names if name != "cpi_end"}
    return pack(dut.i.payload.shape(), cpi_end=words["cpi_end"], **columns)


def expected_words(dut, words):
    out, status = plot_extractor(words, doppler_bins=dut.doppler_bins,
                                 max_clusters=dut.max_clusters)
    columns = {f"plot.{name}": out[name] for name in out.dtype.names if name != "cpi_end"}
    return pack(dut.o.payload.shape(), cpi_end=out["cpi_end"], **columns), out, status


def random_cpis(rng, shape, densities, *, first_cpi=0, top=20):
    cpis = []
    for c, density in enumerate(densities):
        power, mask = random_map(rng, shape, density, top)
        cpis.append((first_cpi + c, map_hits(power, mask, power // 2, cpi=first_cpi + c)))
    return cpis


def shape_cpis(rng, shape):
    """Every hand-made shape, one CPI each."""
    return [(c, map_hits(*shape_map(SHAPES[name][0], shape, rng), cpi=c))
            for c, name in enumerate(sorted(SHAPES))]


@pytest.mark.parametrize("p_stall", [0.0, 0.3])
def test_amaranth_sim_bit_exact(p_stall):
    dut = PlotExtractor(range_bits=5, doppler_bins=8, power_width=12, max_clusters=16)
    rng = np.random.default_rng(31)
    cpis = random_cpis(rng, (12, 8), [0.25, 0.0, 0.4]) + \
        [(c + 3, h) for c, h in shape_cpis(rng, (8, 8))[:4]]
    words = hit_words(cpis)
    expect, out, status = expected_words(dut, words)
    assert not status["overflow"] and np.count_nonzero(out["cpi_end"]) == len(cpis)
    assert len(out) > 15
    got = simulate_stream(dut, stream_words(dut, words), len(expect), p_in_stall=p_stall,
                          p_out_stall=p_stall, seed=int(p_stall * 10) + 1)
    assert got == expect


def test_amaranth_sim_shapes_odd_doppler_bins():
    """M = 12 (not a power of two): the Doppler wrap at 11 -> 0; the shapes, a dense map."""
    dut = PlotExtractor(range_bits=4, doppler_bins=12, power_width=10, max_clusters=12)
    rng = np.random.default_rng(32)
    cpis = shape_cpis(rng, (8, 12)) + random_cpis(rng, (10, 12), [0.5], first_cpi=20, top=5)
    words = hit_words(cpis)
    expect, out, status = expected_words(dut, words)
    assert not status["overflow"]
    got = simulate_stream(dut, stream_words(dut, words), len(expect), p_in_stall=0.3,
                          p_out_stall=0.3, seed=5)
    assert got == expect


def run_with_status(dut, inputs, count):
    """Feed ``inputs`` with o.ready high; return the outputs and (overflow, dropped)."""
    result = {}

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        out, k = [], 0
        for _ in range(50 * (len(inputs) + count)):
            if k < len(inputs):
                ctx.set(Value.cast(dut.i.payload), inputs[k])
            ctx.set(dut.i.valid, k < len(inputs))
            _, _, ready, valid, payload = await ctx.tick().sample(
                dut.i.ready, dut.o.valid, Value.cast(dut.o.payload))
            k += bool(ready and k < len(inputs))
            out += [payload] if valid else []
            if k == len(inputs) and len(out) >= count:
                break
        for _ in range(30):                    # nothing more comes out
            _, _, valid = await ctx.tick().sample(dut.o.valid)
            assert not valid
        result.update(out=out, status=(ctx.get(dut.overflow), ctx.get(dut.dropped)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return result["out"], result["status"]


def test_amaranth_sim_overflow_flag_and_dropped_count():
    dut = PlotExtractor(range_bits=4, doppler_bins=16, power_width=8, max_clusters=3)
    rng = np.random.default_rng(33)
    cpis = random_cpis(rng, (10, 16), [0.05, 0.35])
    for upto, overflow in ((1, False), (2, True)):     # the sparse CPI fits, the dense one not
        words = hit_words(cpis[:upto])
        expect, _, status = expected_words(dut, words)
        assert status["overflow"] == overflow and (status["dropped"] > 5) == overflow
        got, flags = run_with_status(dut, stream_words(dut, words), len(expect))
        assert got == expect
        assert flags == (int(overflow), status["dropped"])


def test_amaranth_sim_disordered_input_and_bad_doppler_bins():
    """Input out of order (the contract broken: clusters may be split or joined) and
    hits at doppler_bin >= M: no hang, no lost word, still the model's output, the
    bad hits counted as dropped without raising overflow."""
    dut = PlotExtractor(range_bits=3, doppler_bins=12, power_width=10, max_clusters=5)
    rng = np.random.default_rng(34)
    words = np.zeros(80, dtype=HIT_WORD_DTYPE)
    for name in HIT_WORD_DTYPE.names:
        words[name] = rng.integers(0, 1000, len(words))
    words["range_bin"] = rng.integers(0, 8, len(words))
    words["doppler_bin"] = rng.integers(0, 16, len(words))
    words["cpi_end"] = rng.random(len(words)) < 0.1
    words["cpi_end"][-1] = 1
    expect, out, status = expected_words(dut, words)
    assert len(out) > 20 and status["dropped"] > 10
    got, flags = run_with_status(dut, stream_words(dut, words), len(expect))
    assert got == expect and flags == (int(status["overflow"]), status["dropped"])
    outside = np.count_nonzero(words["doppler_bin"][words["cpi_end"] == 0] >= 12)
    assert flags[1] > outside if flags[0] else flags[1] == outside


def test_throughput_trace():
    """Hits of one range bin are taken one per clock; a new range bin waits for the
    plots of the previous boundary to be issued (one per clock), cpi_end then
    clears the label store in M clocks; a plot leaves emission_latency clocks after
    its issue."""
    m = 16
    dut = PlotExtractor(range_bits=4, doppler_bins=m, power_width=8, max_clusters=8)
    mask = np.zeros((3, m), dtype=bool)
    mask[0, ::2] = True                     # 8 single-hit clusters in range bin 0
    mask[2, 1] = True                       # range bin 2 closes all 8 (bin 1 is empty)
    power = np.full(mask.shape, 9)
    words = hit_words([(0, map_hits(power, mask)), (1, map_hits(power[:1], mask[:1]))])
    inputs = stream_words(dut, words)
    taken, valid = [], []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        k = 0
        for _ in range(80):
            if k < len(inputs):
                ctx.set(Value.cast(dut.i.payload), inputs[k])
            ctx.set(dut.i.valid, k < len(inputs))
            _, _, ready, o_valid = await ctx.tick().sample(dut.i.ready, dut.o.valid)
            taken.append(int(ready and k < len(inputs)))
            valid.append(o_valid)
            k += taken[-1]

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    # 8 hits, the hit of bin 2 and cpi_end back to back; the bin-2 hit decides in
    # clock 9 and closes 8 clusters, issued in clocks 10 ... 17; cpi_end waits for
    # them, decides in clock 18, clears in 19 ... 18 + M; then CPI 1 (8 hits, cpi_end).
    assert taken[:10 + 8 + 1 + m + 9] == [1] * 10 + [0] * (8 + 1 + m) + [1] * 9
    first = 10 + dut.emission_latency
    assert valid[:first + 10] == [0] * first + [1] * 8 + [0, 1]     # 8 plots, cpi_end


@pytest.mark.parametrize("m,clusters,densities", [(16, 12, [0.12, 0.0, 0.3]),
                                                   (12, 3, [0.3, 0.05])])
def test_cocotb_bit_exact(m, clusters, densities):
    """Verilator on the generated Verilog: random maps (an empty CPI), every hand-made
    shape; M = 12 with 3 slots overflows."""
    dut = PlotExtractor(range_bits=6, doppler_bins=m, power_width=20, max_clusters=clusters)
    rng = np.random.default_rng(m)
    cpis = random_cpis(rng, (40, m), densities, top=1000, first_cpi=65530)
    cpis += [(c, h) for c, h in shape_cpis(rng, (8, m))]
    words = hit_words(cpis)
    expect, out, status = expected_words(dut, words)
    assert status["overflow"] == (clusters < 8) and len(out) > 60
    got = cocotb_stream(dut, f"plot_extractor_m{m}_n{clusters}", stream_words(dut, words),
                        len(expect), seed=m)
    assert got == expect
