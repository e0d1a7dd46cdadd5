"""Cfar (CA/GO/SO/OS, 1-D and 2-D on the range–Doppler map): model against a brute
force and against the range-only CA-CFAR, gateware bit-exact to the model in Amaranth
simulation and in cocotb + Verilator under random stalls."""

import random

import numpy as np
import pytest
from amaranth import Value, unsigned
from amaranth.sim import Simulator

from amaradar.hdl.detect.cfar import CFAR_TYPES, Cfar
from amaradar.hdl.formats import CFAR_SCALE_FRAC, framed_layout, pack
from amaradar.sim.engines.streams import StreamProtocolError, cocotb_stream
from amaradar.sim.models.detect.ca_cfar import ca_cfar
from amaradar.sim.models.detect.cfar import (HIT_DTYPE, OUTPUT_DTYPE, cfar_applied_alpha,
                                             cfar_ideal, cfar_map, cfar_scale_word, cfar_stream,
                                             cfar_thresholds, reference_count)


def noisy_map(rng, rows, cols, *, mean=1000, targets=6, power_width=16):
    """Exponential noise (integers) with a few point targets and a target spread in range,
    clipped to ``power_width`` bits."""
    x = rng.exponential(mean, (rows, cols))
    for _ in range(targets):
        x[rng.integers(0, rows), rng.integers(0, cols)] += mean * rng.uniform(5, 60)
    if rows > 8:
        start = rng.integers(0, rows - 5)
        x[start:start + 5, rng.integers(0, cols)] += mean * 40
    return np.minimum(np.round(x), (1 << power_width) - 1).astype(np.int64)


def brute_force(x, cfar_type, n, g, dn, dg, scale, k=None, cpi=0):
    """The detection rule written out cell by cell in Python integers."""
    rows, cols = x.shape
    out = []
    for r in range(n + g, rows - n - g):
        for d in range(cols):
            lead, lag = [], []
            for dr in range(-n - g, n + g + 1):
                for dd in range(-dn - dg, dn + dg + 1):
                    if abs(dr) <= g and abs(dd) <= dg:
                        continue
                    value = int(x[r + dr, (d + dd) % cols])
                    (lead if dr < 0 or (dr == 0 and dd < 0) else lag).append(value)
            assert len(lead) == len(lag)
            s = {"ca": lambda: sum(lead) + sum(lag), "go": lambda: max(sum(lead), sum(lag)),
                 "so": lambda: min(sum(lead), sum(lag)),
                 "os": lambda: sorted(lead + lag)[k - 1]}[cfar_type]()
            if int(x[r, d]) << CFAR_SCALE_FRAC > scale * s:
                out.append((cpi, r, d, int(x[r, d]), (scale * s) >> CFAR_SCALE_FRAC,
                            int(x[r - 1, d]), int(x[r + 1, d]), int(x[r, (d - 1) % cols]),
                            int(x[r, (d + 1) % cols])))
    return out


# ---------------------------------------------------------------- model

WINDOWS = [(3, 1, 0, 0), (1, 0, 0, 0), (2, 2, 0, 0), (2, 0, 1, 1), (1, 2, 2, 0), (2, 1, 0, 2)]


@pytest.mark.parametrize("cfar_type", CFAR_TYPES)
@pytest.mark.parametrize("window", WINDOWS)
def test_model_matches_brute_force(cfar_type, window):
    n, g, dn, dg = window
    rng = np.random.default_rng(sum(window) * 7 + CFAR_TYPES.index(cfar_type))
    x = noisy_map(rng, 22, 8)
    k = max(1, 3 * reference_count(*window) // 4)
    scale = cfar_scale_word(cfar_type, 2.5, reference_count(*window))
    hits = cfar_map(x, cfar_type=cfar_type, reference_cells=n, guard_cells=g, scale=scale,
                    os_k=k if cfar_type == "os" else None, doppler_reference_cells=dn,
                    doppler_guard_cells=dg, cpi=70000)
    expect = brute_force(x, cfar_type, n, g, dn, dg, scale, k, cpi=70000 % 65536)
    assert len(expect) >= 5
    assert [tuple(int(v) for v in h) for h in hits] == expect
    assert hits.dtype == HIT_DTYPE


def test_model_1d_ca_is_ca_cfar_along_each_doppler_bin():
    rng = np.random.default_rng(2)
    x = noisy_map(rng, 60, 16)
    scale = 1 << 13
    hits = cfar_map(x, cfar_type="ca", reference_cells=4, guard_cells=2, scale=scale)
    for d in range(16):
        column = ca_cfar(x[:, d], reference_cells=4, guard_cells=2, scale=scale)
        mine = hits[hits["doppler_bin"] == d]
        assert np.array_equal(mine["range_bin"], column["range_bin"])
        assert np.array_equal(mine["threshold"], column["threshold"])
    assert len(hits) > 20


@pytest.mark.parametrize("cfar_type", CFAR_TYPES)
@pytest.mark.parametrize("window", [(6, 2, 0, 0), (3, 1, 2, 1)])
def test_model_equals_ideal_with_applied_alpha(cfar_type, window):
    rng = np.random.default_rng(6)
    x = np.round(rng.exponential(2.0 ** 20, (3, 60, 32))).astype(np.int64)
    x[:, ::7, ::5] *= 20
    n_ref = reference_count(*window)
    k = 3 * n_ref // 4 if cfar_type == "os" else None
    scale = cfar_scale_word(cfar_type, 2.5, n_ref)
    kwargs = dict(cfar_type=cfar_type, reference_cells=window[0], guard_cells=window[1], os_k=k,
                  doppler_reference_cells=window[2], doppler_guard_cells=window[3])
    hit, threshold = cfar_thresholds(x, scale=scale, **kwargs)
    ideal, ideal_threshold = cfar_ideal(x, alpha=cfar_applied_alpha(cfar_type, scale, n_ref),
                                        **kwargs)
    assert hit.sum() > 100
    assert np.array_equal(hit, ideal)
    assert np.array_equal(threshold, np.floor(ideal_threshold).astype(np.int64))
    assert np.all(threshold[hit] < x[hit])


def test_model_stream_cut_and_markers():
    rng = np.random.default_rng(4)
    maps = [noisy_map(rng, 30, 8), noisy_map(rng, 4, 8), noisy_map(rng, 50, 8)]
    config = dict(cfar_type="go", reference_cells=3, guard_cells=1, scale=1 << 15)
    out = cfar_stream(maps, config, range_cells=40, first_cpi=65535)
    assert out.dtype == OUTPUT_DTYPE
    ends = np.nonzero(out["cpi_end"])[0]
    assert len(ends) == 3 and ends[-1] == len(out) - 1
    assert list(out["cpi"][ends]) == [65535, 0, 1]
    assert ends[1] == ends[0] + 1                         # 4 rows: no tested row, no hit
    third = out[ends[1] + 1:ends[2]]
    assert np.array_equal(third[list(HIT_DTYPE.names)],
                          cfar_map(maps[2][:40], cpi=1, **config))
    assert third["range_bin"].max() <= 40 - 1 - 4
    for name in HIT_DTYPE.names:
        if name != "cpi":
            assert not out[name][ends].any()


def test_model_errors():
    x = np.ones((20, 8), dtype=np.int64)
    base = dict(cfar_type="ca", reference_cells=2, guard_cells=1, scale=1)
    cases = [
        (dict(cfar_type="xx"), ValueError, "cfar_type must be one of ca, go, so, os, not 'xx'"),
        (dict(reference_cells=0), ValueError, "reference_cells must be >= 1, not 0"),
        (dict(guard_cells=1.5), TypeError, "guard_cells must be an integer, not 1.5"),
        (dict(cfar_type="os"), TypeError, "os_k must be given for cfar_type 'os'"),
        (dict(cfar_type="os", os_k=9), ValueError, "os_k must be between 1 and 4, not 9"),
        (dict(doppler_reference_cells=3, doppler_guard_cells=1), ValueError,
         "Doppler window 2*(doppler_reference_cells + doppler_guard_cells) + 1 = 9 must be at "
         "most doppler_cells = 8"),
        (dict(scale=1 << 20), ValueError, "scale must be an integer in [0, 2**20), not 1048576"),
    ]
    for change, exc, msg in cases:
        with pytest.raises(exc) as info:
            cfar_map(x, **(base | change))
        assert str(info.value) == msg
    with pytest.raises(ValueError, match=r"^power must be non-negative$"):
        cfar_map(-x, **base)


@pytest.mark.parametrize("kwargs,exc,msg", [
    (dict(max_reference_cells=0), ValueError, "max_reference_cells must be >= 1, not 0"),
    (dict(max_guard_cells=-1), ValueError, "max_guard_cells must be >= 0, not -1"),
    (dict(doppler_cells=12), ValueError, "doppler_cells must be a power of two, not 12"),
    (dict(doppler_cells=4), ValueError, "doppler_cells must be between 8 and 65536, not 4"),
    (dict(power_width=49), ValueError, "power_width must be between 1 and 48, not 49"),
    (dict(range_cells=12), ValueError, "range_cells must be between 13 and 65536, not 12"),
    (dict(range_cells=40.0), TypeError, "range_cells must be an integer, not 40.0"),
    (dict(types="ca"), TypeError, "types must be a tuple of names from ('ca', 'go', 'so', 'os'), "
                                  "not 'ca'"),
    (dict(types=("ca", "xx")), ValueError,
     "types must be distinct names from ('ca', 'go', 'so', 'os'), not ('ca', 'xx')"),
    (dict(max_doppler_reference_cells=3, max_doppler_guard_cells=1), ValueError,
     "Doppler window 2*(max_doppler_reference_cells + max_doppler_guard_cells) + 1 = 9 must "
     "be at most doppler_cells = 8"),
    (dict(types=("os",), max_doppler_reference_cells=1), ValueError,
     "types with 'os' needs max_doppler_reference_cells = max_doppler_guard_cells = 0 "
     "(OS is built along range only)"),
])
def test_parameter_errors(kwargs, exc, msg):
    args = dict(range_cells=40, doppler_cells=8, max_reference_cells=4, max_guard_cells=2,
                power_width=16) | kwargs
    with pytest.raises(exc) as info:
        Cfar(**args)
    assert str(info.value) == msg


def test_attributes():
    dut = Cfar(range_cells=4096, doppler_cells=256, max_reference_cells=16, max_guard_cells=3,
               power_width=36, max_doppler_reference_cells=2, max_doppler_guard_cells=1)
    dut._MustUse__silence = True                     # built for its attributes only
    assert (dut.range_bits, dut.doppler_bits, dut.two_d) == (12, 8, True)
    assert dut.max_reference_count == reference_count(16, 3, 2, 1)
    dut = Cfar(range_cells=4097, doppler_cells=8, max_reference_cells=1, max_guard_cells=0,
               power_width=8)
    dut._MustUse__silence = True
    assert (dut.range_bits, dut.doppler_bits, dut.two_d) == (13, 3, False)


def frame(maps, power_width, *, break_first=None):
    """Input words for a run of CPIs (``break_first``: clear ``first`` on that cell)."""
    data, first, last, cpi_end = [], [], [], []
    for x in maps:
        rows, cols = x.shape
        data += x.reshape(-1).tolist()
        first += ([1] + [0] * (cols - 1)) * rows
        last += ([0] * (cols - 1) + [1]) * rows
        cpi_end += [0] * (rows * cols - 1) + [1]
    if break_first is not None:
        first[break_first] = 0
    return pack(framed_layout(unsigned(power_width)), data=data, first=first, last=last,
                cpi_end=cpi_end)


def output_words(dut, out):
    columns = {f"hit.{name}": out[name] for name in HIT_DTYPE.names}
    return pack(dut.o.payload.shape(), cpi_end=out["cpi_end"], **columns)


def ports_of(config):
    """The Cfar port values of a model configuration."""
    return {"cfar_type": CFAR_TYPES.index(config["cfar_type"]),
            "reference_cells": config["reference_cells"], "guard_cells": config["guard_cells"],
            "doppler_reference_cells": config.get("doppler_reference_cells", 0),
            "doppler_guard_cells": config.get("doppler_guard_cells", 0),
            "os_k": config.get("os_k") or 0, "scale": config["scale"]}


def run_cpis(dut, maps, ports, count, *, p_in_stall=0.3, p_out_stall=0.3, seed=0,
             power_width=16, flags=(), break_first=None):
    """Feed ``maps`` (one CPI each) with random stalls, setting ``ports[c]`` for CPI ``c``
    just after CPI ``c - 1``'s last cell is accepted; collect ``count`` output words and,
    at the end, the named status flags and ``refused``: per CPI, the cycles in which
    one of its cells was offered and ``i.ready`` was low."""
    rng = random.Random(seed)
    inputs = frame(maps, power_width, break_first=break_first)
    ends = np.cumsum([x.size for x in maps])
    out, fed, status = [], [], {}
    refused = [0] * len(maps)
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    def set_ports(ctx, values):
        for name, value in values.items():
            ctx.set(getattr(dut, name), value)

    async def source(ctx):
        set_ports(ctx, ports[0])
        for j, word in enumerate(inputs):
            while rng.random() < p_in_stall:
                ctx.set(dut.i.valid, 0)
                await ctx.tick()
            ctx.set(Value.cast(dut.i.payload), word)
            ctx.set(dut.i.valid, 1)
            cpi = int(np.searchsorted(ends, j + 1))
            while not (await ctx.tick().sample(dut.i.ready))[2]:
                refused[cpi] += 1
            if j + 1 == ends[min(cpi, len(ends) - 1)] and cpi + 1 < len(maps):
                set_ports(ctx, ports[cpi + 1])
        ctx.set(dut.i.valid, 0)
        fed.append(True)

    async def sink(ctx):
        pending = None
        for _ in range(300 + 6 * (len(inputs) + count)):
            ready = rng.random() >= p_out_stall
            ctx.set(dut.o.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid, Value.cast(dut.o.payload))
            if pending is not None and (not valid or payload != pending):
                raise StreamProtocolError(f"o dropped or changed a waiting word after {len(out)}")
            pending = None
            if valid and ready and len(out) < count:
                out.append(payload)
            elif valid:
                pending = payload
            if len(out) == count and fed:
                for _ in range(60):                     # nothing more may come out
                    ctx.set(dut.o.ready, 1)
                    _, _, valid = await ctx.tick().sample(dut.o.valid)
                    assert not valid, "more output words than the model has"
                status.update({name: ctx.get(getattr(dut, name)) for name in flags})
                status["refused"] = refused
                return
        raise AssertionError(f"timeout: {len(out)} of {count} output words")

    sim.add_testbench(source, background=True)
    sim.add_testbench(sink)
    sim.run()
    return out, status


def check_run(dut, maps, configs, *, range_cells=None, **kwargs):
    expect = cfar_stream(maps, configs, range_cells=range_cells)
    words = output_words(dut, expect)
    out, status = run_cpis(dut, maps, [ports_of(c) for c in configs], len(words),
                           power_width=dut.power_width, **kwargs)
    assert out == words
    return expect, status


def dut_1d():
    return Cfar(range_cells=40, doppler_cells=8, max_reference_cells=4, max_guard_cells=2,
                power_width=16, types=CFAR_TYPES)


def dut_2d():
    return Cfar(range_cells=40, doppler_cells=8, max_reference_cells=3, max_guard_cells=1,
                power_width=16, max_doppler_reference_cells=2, max_doppler_guard_cells=1)


CONFIGS_1D = [
    dict(cfar_type="ca", reference_cells=4, guard_cells=2, scale=1 << 13),
    dict(cfar_type="go", reference_cells=3, guard_cells=0, scale=1 << 15),
    dict(cfar_type="os", reference_cells=4, guard_cells=1, os_k=6, scale=5 << 15),
    dict(cfar_type="so", reference_cells=1, guard_cells=1, scale=3 << 15),
    dict(cfar_type="os", reference_cells=2, guard_cells=2, os_k=1, scale=3 << 16),
    dict(cfar_type="go", reference_cells=1, guard_cells=0, scale=3 << 16),
]
CONFIGS_2D = [
    dict(cfar_type="ca", reference_cells=3, guard_cells=1, doppler_reference_cells=2,
         doppler_guard_cells=1, scale=1 << 12),
    dict(cfar_type="go", reference_cells=2, guard_cells=0, doppler_reference_cells=1,
         doppler_guard_cells=0, scale=1 << 14),
    dict(cfar_type="so", reference_cells=1, guard_cells=1, doppler_reference_cells=0,
         doppler_guard_cells=1, scale=5 << 14),
    dict(cfar_type="ca", reference_cells=2, guard_cells=1, doppler_reference_cells=0,
         doppler_guard_cells=0, scale=1 << 13),
    dict(cfar_type="so", reference_cells=1, guard_cells=0, doppler_reference_cells=2,
         doppler_guard_cells=0, scale=3 << 14),
]


@pytest.mark.parametrize("p_stall", [0.0, 0.3])
def test_amaranth_sim_1d_every_type(p_stall):
    """CA, GO, OS, SO, OS, GO on six CPIs, the type and sizes changed at each CPI start."""
    rng = np.random.default_rng(11)
    maps = [noisy_map(rng, rows, 8) for rows in (40, 25, 33, 20, 40, 12)]
    expect, _ = check_run(dut_1d(), maps, CONFIGS_1D, p_in_stall=p_stall, p_out_stall=p_stall,
                          seed=int(p_stall * 10))
    per_cpi = np.bincount(expect["cpi"], minlength=6) - 1
    assert np.all(per_cpi >= 4), per_cpi


@pytest.mark.parametrize("p_stall", [0.0, 0.3])
def test_amaranth_sim_2d_every_type(p_stall):
    rng = np.random.default_rng(12)
    maps = [noisy_map(rng, rows, 8) for rows in (40, 30, 24, 36, 15)]
    expect, _ = check_run(dut_2d(), maps, CONFIGS_2D, p_in_stall=p_stall, p_out_stall=p_stall,
                          seed=3 + int(p_stall * 10))
    per_cpi = np.bincount(expect["cpi"], minlength=5) - 1
    assert np.all(per_cpi >= 4), per_cpi


@pytest.mark.parametrize("build", ["1d", "2d"])
def test_amaranth_sim_one_cell_per_clock(build):
    """The class docstring's throughput: with every cell offered at once and ``o`` always
    ready, ``i.ready`` is never low, in no row and at no CPI boundary: across every
    configuration change, CPIs of one and two rows (no tested row), a configuration
    error and CPIs longer than ``range_cells`` (cut), and bit-exact to the model."""
    rng = np.random.default_rng(16)
    dut = dut_1d() if build == "1d" else dut_2d()
    configs = CONFIGS_1D if build == "1d" else CONFIGS_2D
    bad = len(configs)                  # this CPI has no reference cells: a configuration error
    rows = [40, 1, 45, 2, 12, 13, 40, 3, 9, 44, 30, 25, 1][:2 * bad + 1]
    maps = [noisy_map(rng, r, 8) for r in rows]
    expect = cfar_stream(maps, [*configs, configs[0], *configs], range_cells=40)
    expect = expect[(expect["cpi"] != bad) | (expect["cpi_end"] == 1)]
    words = output_words(dut, expect)
    ports = [ports_of(c) for c in [*configs, dict(configs[0], reference_cells=0), *configs]]
    out, status = run_cpis(dut, maps, ports, len(words), p_in_stall=0.0, p_out_stall=0.0,
                           flags=("config_error",))
    assert out == words
    assert status == {"config_error": 1, "refused": [0] * len(maps)}
    assert np.count_nonzero(expect["cpi_end"] == 0) > 50


def dut_long():
    """Segments longer than one block RAM (512 words): rows spread over two memories."""
    return Cfar(range_cells=48, doppler_cells=64, max_reference_cells=9, max_guard_cells=9,
                power_width=16, types=("ca", "so"))


def test_amaranth_sim_long_segments():
    rng = np.random.default_rng(15)
    maps = [noisy_map(rng, rows, 64, targets=30) for rows in (44, 40)]
    configs = [dict(cfar_type="ca", reference_cells=9, guard_cells=9, scale=5 << 12),
               dict(cfar_type="so", reference_cells=9, guard_cells=1, scale=1 << 16)]
    expect, _ = check_run(dut_long(), maps, configs, p_in_stall=0.2, p_out_stall=0.2, seed=9)
    assert np.all(np.bincount(expect["cpi"]) > 5)


@pytest.mark.parametrize("build", ["1d", "2d"])
def test_amaranth_sim_dense_output(build):
    """scale = 0: every tested cell with power > 0 is a hit, the last one beside its CPI's
    end word; short CPIs (no tested row) give their end word alone."""
    rng = np.random.default_rng(13)
    dut = dut_1d() if build == "1d" else dut_2d()
    config = dict((CONFIGS_1D if build == "1d" else CONFIGS_2D)[0], scale=0)
    maps = [noisy_map(rng, rows, 8) for rows in (20, 3, 2, 13)]
    for x in maps:
        x[::5, ::3] = 0                          # 0 * 2**F > 0 * S is false: not a hit
    expect, _ = check_run(dut, maps, [config] * 4, p_in_stall=0.1, p_out_stall=0.5, seed=5)
    reach = config["reference_cells"] + config["guard_cells"]
    tested = [max(0, rows - 2 * reach) * 8 for rows in (20, 3, 2, 13)]
    assert 30 < np.count_nonzero(expect["cpi_end"] == 0) < sum(tested)
    assert list(expect["cpi"][expect["cpi_end"] == 1]) == [0, 1, 2, 3]
    assert expect[-2]["range_bin"] == 13 - 1 - reach and expect[-2]["doppler_bin"] == 7


def test_amaranth_sim_status_flags():
    """A configuration outside the maxima, or a type not built: that CPI has no hits and
    config_error rises; a CPI longer than range_cells is cut; a missing ``first``
    raises framing_error and changes nothing else."""
    rng = np.random.default_rng(14)
    dut = Cfar(range_cells=30, doppler_cells=8, max_reference_cells=3, max_guard_cells=1,
               power_width=16)
    good = dict(cfar_type="ca", reference_cells=3, guard_cells=1, scale=1 << 13)
    maps = [noisy_map(rng, 36, 8), noisy_map(rng, 20, 8), noisy_map(rng, 20, 8),
            noisy_map(rng, 20, 8)]
    configs = [good, dict(good, reference_cells=4), dict(good, cfar_type="os", os_k=2), good]
    expect = cfar_stream(maps, [good] * 4, range_cells=30)
    keep = ~np.isin(expect["cpi"], [1, 2]) | (expect["cpi_end"] == 1)
    expect = expect[keep]
    assert np.count_nonzero(expect["cpi_end"] == 0) > 10
    words = output_words(dut, expect)
    out, status = run_cpis(dut, maps, [ports_of(c) for c in configs], len(words),
                           flags=("config_error", "framing_error", "cpi_too_long"),
                           break_first=8 * 5, seed=7)
    assert out == words
    assert status | {"refused": None} == {"config_error": 1, "framing_error": 1,
                                          "cpi_too_long": 1, "refused": None}
    _, clean = run_cpis(dut, maps[1:2], [ports_of(good)], 1 + int(
        np.count_nonzero(cfar_stream(maps[1:2], good)["cpi_end"] == 0)),
        flags=("config_error", "framing_error", "cpi_too_long"), seed=8)
    assert clean == {"config_error": 0, "framing_error": 0, "cpi_too_long": 0, "refused": [0]}


@pytest.mark.parametrize("build,configs", [
    ("1d", CONFIGS_1D[:4]),
    ("2d", CONFIGS_2D[:3]),
])
def test_cocotb_bit_exact(build, configs):
    """One Verilator build per elaboration; one run per configuration, each of several
    CPIs under random stalls on both sides."""
    dut = dut_1d() if build == "1d" else dut_2d()
    rng = np.random.default_rng(21 if build == "1d" else 22)
    for j, config in enumerate(configs):
        maps = [noisy_map(rng, rows, 8, targets=10) for rows in (40, 27, 4, 38)]
        expect = cfar_stream(maps, config)
        assert np.count_nonzero(expect["cpi_end"] == 0) > 10
        words = output_words(dut, expect)
        out = cocotb_stream(dut, f"cfar_{build}", frame(maps, 16), len(words),
                            ports=ports_of(config), seed=30 + j)
        assert out == words
