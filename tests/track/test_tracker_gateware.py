# amaranth: UnusedElaboratable=no
"""The tracker in gateware (``hdl.track.tracker.Tracker``) against its bit-exact model:
Amaranth sim under random stalls (crossing targets among false plots, folded fast
targets that unfold, overflows and every sticky flag), the cycles of a CPI against
the stated formula and a realistic CPI, cocotb + Verilator, a long run in the rtl
engine, and parameter errors."""

import random

import numpy as np
import pytest
from amaranth import Value
from amaranth.sim import Simulator

from amaradar.hdl.track.tables import TRACKER_FLAGS, TrackerConfig, TrackerRadar
from amaradar.hdl.track.tracker import Tracker, track_layout
from amaradar.sim.engines.payloads import pack_bytes, unpack_bytes
from amaradar.sim.engines.rtl_engine import RtlEngine
from amaradar.sim.engines.rtl_tracker import tracker_input_columns as input_columns
from amaradar.sim.engines.streams import cocotb_stream, simulate_stream
from amaradar.sim.models.track import tracker as tracker_model
from amaradar.sim.models.track.tracker import TRACK_FIELDS, TrackerModel, tracker_radar
from amaradar.sim.world.scenario import load_scenario
from amaradar.sim.world.track_metrics import PLOT_DTYPE, synthetic_plots
from tracker_frames import (POWER_BITS, UHF, crossing_frames, expected_columns, expected_words,
                            input_words, runtime)

# One CPI per second: v_u is 11.5 cells per CPI, so a track's rate can run into its limit.
SLOW = TrackerRadar(range_cell_m=15.0, cpi_s=1.0, pulses=16, unambiguous_velocity_mps=172.0)


def status_of(model):
    status = model.status()
    out = {name: int(status.flags[name]) for name in TRACKER_FLAGS}
    out.update(plots_dropped=status.plots_dropped, initiations_dropped=status.initiations_dropped,
               tracks_started=status.tracks_started)
    return out


def run_bench(dut, words, count, ports, *, p_stall=0.0, seed=0, max_cycles=400_000):
    """Feed ``words`` and take ``count`` output words with random stalls on both sides.

    Returns the outputs, the status ports at the end, and per CPI the cycles from
    the acceptance of its ``cpi_end`` word to the transfer of the output one.
    """
    rng = random.Random(seed)
    # cpi_end is the last field of both layouts: the top bit
    end_in = 1 << (Value.cast(dut.i.payload).shape().width - 1)
    end_out = 1 << (Value.cast(dut.o.payload).shape().width - 1)
    out, ends_in, ends_out, status = [], [], [], {}

    async def bench(ctx):
        for name, value in ports.items():
            ctx.set(getattr(dut, name), value)
        k = 0
        for cycle in range(max_cycles):
            offer = k < len(words) and rng.random() >= p_stall
            if offer:
                ctx.set(dut.i.payload.as_value(), words[k])
            ctx.set(dut.i.valid, offer)
            ready = rng.random() >= p_stall
            ctx.set(dut.o.ready, ready)
            _, _, taken, valid, payload = await ctx.tick().sample(
                dut.i.ready, dut.o.valid, dut.o.payload.as_value())
            if offer and taken:
                if words[k] & end_in:
                    ends_in.append(cycle)
                k += 1
            if valid and ready:
                out.append(payload)
                if payload & end_out:
                    ends_out.append(cycle)
                if len(out) == count:
                    break
        for name in (*TRACKER_FLAGS, "plots_dropped", "initiations_dropped", "tracks_started"):
            status[name] = ctx.get(getattr(dut, name))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    cycles = [b - a for a, b in zip(ends_in, ends_out)]
    return out, status, cycles


def folded_frames(cpis, seed):
    """Targets at -10.3, 7.6 and 1.0 times v_u (Doppler folded), one false plot per CPI."""
    multiples = np.array([[-10.3], [7.6], [1.0]])
    steps = np.arange(cpis)
    rates = multiples * UHF.unambiguous_rate * np.ones(cpis)
    ranges = np.array([[3000.0], [4000.0], [2000.0]]) + rates * steps
    frames, _ = synthetic_plots(UHF, ranges, rates, rng=np.random.default_rng(seed),
                                false_plots_per_cpi=1.0, false_range_cells=(1500.0, 4500.0))
    return frames


def accelerating_frames(cpis, seed):
    """A target accelerating away at 0.5 cell per CPI**2 from 30 cells (its rate
    outgrows the rate limit), one closing at 3 cells per CPI from 60 cells (it runs
    into range 0), two false plots per CPI over 1024 cells."""
    steps = np.arange(cpis)
    rates = np.stack([0.5 * steps, np.full(cpis, -3.0)])
    ranges = np.stack([30.0 + 0.25 * steps ** 2, 60.0 - 3.0 * steps])
    frames, _ = synthetic_plots(SLOW, ranges, rates, rng=np.random.default_rng(seed),
                                range_sigma_cells=0.5, range_pos_bits=18, false_plots_per_cpi=2.0,
                                false_range_cells=(0.0, 1023.0))
    return frames


# ---------------------------------------------------------------- Amaranth sim

def test_amaranth_sim_crossing_targets_among_false_plots():
    cfg = TrackerConfig(radar=UHF, max_tracks=10, max_plots=8, max_speed_mps=3000)
    dut = Tracker(cfg, power_bits=POWER_BITS)
    frames = crossing_frames(64, seed=2)
    model = TrackerModel(cfg, confirm_m=3, confirm_n=5, delete_k=5)
    words, reports = expected_words(dut, model, frames)
    every = np.concatenate(reports)
    # the scenario exercises what it should: two confirmed tracks that unfold through
    # the crossing, tentative tracks on false plots, associations of both kinds
    confirmed = every[every["status"] == 1]
    assert len(set(confirmed["track_id"].tolist())) >= 2 and confirmed["unfolded"].any()
    assert (every["status"] == 0).sum() > 50 and (every["status"] == 2).any()
    assert model.status().tracks_started > 40 and (every["plot"] > 1).any()
    out = simulate_stream(dut, input_words(dut, frames), len(words), ports=runtime(model),
                          p_in_stall=0.3, p_out_stall=0.3, seed=4, max_cycles=300_000)
    assert len(out) == len(words)
    assert out == words


@pytest.mark.parametrize("correct", [True, False])
def test_amaranth_sim_folded_fast_targets_unfold(correct):
    cfg = TrackerConfig(radar=UHF, max_tracks=8, max_plots=8, max_speed_mps=12000)
    dut = Tracker(cfg, power_bits=POWER_BITS)
    frames = folded_frames(24, seed=5)
    model = TrackerModel(cfg, confirm_m=2, confirm_n=3, delete_k=3, correct_coupling=correct)
    words, reports = expected_words(dut, model, frames)
    last = reports[-1]
    fast = last[(last["unfolded"] == 1) & (last["status"] == 1)]
    # the two fast targets are unfolded: rates of 10.3 and 7.6 v_u, many periods away
    assert len(fast) >= 3 and np.abs(fast["range_rate"]).max() > 10 * UHF.unambiguous_rate * 2 ** 16
    out = simulate_stream(dut, input_words(dut, frames), len(words), ports=runtime(model),
                          p_in_stall=0.3, p_out_stall=0.3, seed=6, max_cycles=300_000)
    assert out == words


def test_amaranth_sim_without_sweep_other_tables_and_switches():
    """No range-Doppler coupling (no coupling product), a Doppler gate of 0.7 bin (a
    reciprocal that is no power of two), five miss columns (a padded table), M = N = 1
    (confirmed at once), K = 2 and no unfolding."""
    plain = TrackerRadar(range_cell_m=15.0, cpi_s=16e-3, pulses=32,
                         unambiguous_velocity_mps=172.0)
    cfg = TrackerConfig(radar=plain, max_tracks=9, max_plots=7, max_speed_mps=2000,
                        doppler_gate_bins=0.7, misses_max=5, window_max=3, id_bits=6)
    dut = Tracker(cfg, power_bits=POWER_BITS)
    assert dut.tables.coupling == (0, 0) and dut.tables.miss_columns == 5
    word = dut.tables.doppler_recip[0]
    assert word & (word - 1)                                # not a power of two
    steps = np.arange(40)
    rates = np.array([[0.3], [-0.5], [0.05]]) * np.ones(40)
    ranges = np.array([[500.0], [540.0], [470.0]]) + rates * steps
    frames, _ = synthetic_plots(plain, ranges, rates, rng=np.random.default_rng(21),
                                detection_probability=0.8, false_plots_per_cpi=2.5,
                                false_range_cells=(430.0, 580.0))
    model = TrackerModel(cfg, confirm_m=1, confirm_n=1, delete_k=2, unfold=False)
    words, reports = expected_words(dut, model, frames)
    every = np.concatenate(reports)
    assert (every["status"] == 0).sum() == 0 and (every["status"] == 2).any()
    assert not every["unfolded"].any() and (every["misses"] == 1).any()
    out = simulate_stream(dut, input_words(dut, frames), len(words), ports=runtime(model),
                          p_in_stall=0.3, p_out_stall=0.3, seed=22, max_cycles=300_000)
    assert out == words


def test_amaranth_sim_overflows_and_every_flag():
    """Four slots, four plots per CPI, 16 ids, 18-bit ranges and a rate limit of 16 cells
    per CPI: plots dropped, initiations dropped (no slot, then no id), a track whose
    rate saturates (its Doppler rate keeps growing) and one whose range does."""
    cfg = TrackerConfig(radar=SLOW, max_tracks=4, max_plots=4, max_speed_mps=100,
                        tracking_index=1.0, range_sigma_cells=1.0, range_pos_bits=18, id_bits=4)
    dut = Tracker(cfg, power_bits=POWER_BITS)
    frames = accelerating_frames(45, seed=1)
    model = TrackerModel(cfg, confirm_m=2, confirm_n=3, delete_k=3)
    words, reports = expected_words(dut, model, frames, first_cpi=65530)
    expect = status_of(model)
    assert all(expect[name] for name in TRACKER_FLAGS)
    assert expect["plots_dropped"] > 10 and expect["initiations_dropped"] > 20
    assert expect["tracks_started"] == 16
    out, status, _ = run_bench(dut, input_words(dut, frames, first_cpi=65530), len(words),
                               runtime(model), p_stall=0.3, seed=8)
    assert out == words
    assert status == expect


@pytest.fixture
def associations(monkeypatch):
    """The model's association calls, recorded: ``(gated, rows, cols)`` per CPI."""
    calls = []
    associate = tracker_model.associate

    def recording(gated, key):
        rows, cols = associate(gated, key)
        calls.append((gated.copy(), rows, cols))
        return rows, cols
    monkeypatch.setattr(tracker_model, "associate", recording)
    return calls


def model_cycles(dut, model, frames, calls):
    """:meth:`Tracker.cpi_cycles` of each CPI, from what ``model`` does with it."""
    cycles = []
    for k, frame in enumerate(frames):
        before = model.status()
        model.step(frame, cpi=k)
        after = model.status()
        gated, rows, cols = calls[-1]
        passes = [int(gated.sum())]
        for j in range(len(rows)):
            free = gated.copy()
            free[rows[:j], :] = False
            free[:, cols[:j]] = False
            passes.append(int(free.sum()))
        started = after.tracks_started - before.tracks_started
        dropped = after.initiations_dropped - before.initiations_dropped
        cycles.append(dut.cpi_cycles(live=gated.shape[0], plots=gated.shape[1], passes=passes,
                                     hits=len(rows), qualified=started + dropped, started=started))
    return cycles


def test_cycles_per_cpi(associations):
    """Measured cycles of each CPI equal :meth:`Tracker.cpi_cycles` of what the model
    did; the worst case of a 32-track, 32-plot tracker fits many times in a CPI of
    the built-in scenario (16 pulses of 10,000 samples at one sample per clock)."""
    cfg = TrackerConfig(radar=UHF, max_tracks=10, max_plots=8, max_speed_mps=3000)
    dut = Tracker(cfg, power_bits=POWER_BITS)
    frames = crossing_frames(30, seed=3, false_plots=4.0)
    frames[12] = frames[12][:0]                          # a CPI without plots
    expected = model_cycles(dut, TrackerModel(cfg, confirm_m=2, confirm_n=4, delete_k=3), frames,
                            associations)
    assert max(len(r) for _, r, _ in associations) >= 2
    model = TrackerModel(cfg, confirm_m=2, confirm_n=4, delete_k=3)
    words, _ = expected_words(dut, model, frames)
    out, _, cycles = run_bench(dut, input_words(dut, frames), len(words), runtime(model))
    assert out == words
    assert cycles == expected

    radar = load_scenario().radar
    clocks_per_cpi = radar.pulses_per_cpi * radar.line_samples
    assert clocks_per_cpi == 160_000
    big = Tracker(TrackerConfig(radar=tracker_radar(radar), max_tracks=32, max_plots=32),
                  power_bits=POWER_BITS)
    print(f"32 tracks, 32 plots: worst case {big.worst_case_cycles()} clocks a CPI "
          f"of {clocks_per_cpi}")
    assert big.worst_case_cycles() < clocks_per_cpi / 5


# ---------------------------------------------------------------- generated Verilog

def test_cocotb_bit_exact():
    """100 CPIs on the generated Verilog: the folded fast targets and the crossing
    targets with their false plots together, stalls on both sides."""
    cfg = TrackerConfig(radar=UHF, max_tracks=12, max_plots=12, max_speed_mps=12000)
    dut = Tracker(cfg, power_bits=POWER_BITS)
    frames = [np.sort(np.concatenate([a, b]), order=["range_pos", "doppler_pos"])
              for a, b in zip(folded_frames(100, seed=9), crossing_frames(100, seed=10))]
    model = TrackerModel(cfg, confirm_m=3, confirm_n=4, delete_k=4)
    words, reports = expected_words(dut, model, frames)
    every = np.concatenate(reports)
    assert len(every) > 800 and (every[every["status"] == 1]["unfolded"] == 1).sum() > 300
    out = cocotb_stream(dut, "tracker_t12_p12", input_words(dut, frames), len(words),
                        ports=runtime(model), seed=12, max_cycles=500_000)
    assert out == words


def test_rtl_engine_long_run(associations):
    """200 CPIs of the built-in scenario's radar at 32 tracks and 32 plots: three
    targets (two fast, folded) among 26 false plots per CPI, which keep the track file
    full; with stalls on both sides every report, the flags and the counters; without,
    the cycles of the run, CPI by CPI as :meth:`Tracker.cpi_cycles` says."""
    radar = tracker_radar(load_scenario().radar)
    cfg = TrackerConfig(radar=radar, max_tracks=32, max_plots=32, max_speed_mps=4000)
    dut = Tracker(cfg, power_bits=POWER_BITS)
    cpis = 200
    steps = np.arange(cpis)
    rate = np.array([[-3200.0], [-2700.0], [240.0]]) / radar.rate_scale_mps * np.ones(cpis)
    ranges = np.array([[8539.0], [6404.0], [3002.0]]) + rate * steps
    frames, _ = synthetic_plots(radar, ranges, rate, rng=np.random.default_rng(15),
                                detection_probability=0.85, false_plots_per_cpi=26.0,
                                false_range_cells=(2000.0, 9000.0))
    model = TrackerModel(cfg, confirm_m=3, confirm_n=5, delete_k=4)
    columns, reports = expected_columns(model, frames)
    every = np.concatenate(reports)
    assert len(every) > 4000 and (every[every["status"] == 1]["unfolded"] == 1).sum() > 200
    expect = status_of(model)
    assert expect["plot_overflow"] and expect["track_overflow"] and expect["tracks_started"] > 1000
    engine = RtlEngine(dut, name="tracker_t32_p32")
    inputs = pack_bytes(dut.i.payload.shape(), input_columns(frames))
    run = engine.run(inputs, ports=runtime(model), p_in_stall=0.3, p_out_stall=0.3, seed=3,
                     drain_cycles=5000)
    got = unpack_bytes(dut.o.payload.shape(), run.outputs)
    assert len(run.outputs) == len(columns["cpi_end"])
    for name, column in columns.items():
        np.testing.assert_array_equal(got[name], column, err_msg=name)
    assert run.status == {**expect, "ecc_corrected": 0, "ecc_uncorrectable": 0}  # no upset

    cycles = model_cycles(dut, TrackerModel(cfg, confirm_m=3, confirm_n=5, delete_k=4), frames,
                          associations)
    assert max(cycles) < 160_000 / 10
    drain = max(cycles) + 1
    run = engine.run(inputs, ports=runtime(model), drain_cycles=drain)
    assert run.cycles == len(inputs) + sum(cycles) + drain


# ---------------------------------------------------------------- parameters

def test_report_layout_is_the_models():
    cfg = TrackerConfig(radar=UHF, id_bits=12, max_plots=20)
    dut = Tracker(cfg, power_bits=8)
    layout = track_layout(dut.tables)
    assert tuple(name for name, _ in layout) == TRACK_FIELDS
    assert layout["track_id"].shape.width == 12 and layout["plot"].shape.width == 5
    assert layout["range_rate"].shape.signed and dut.o.payload.shape()["cpi_end"].shape.width == 1
    assert dut.i.payload.shape()["plot"].shape["doppler_pos"].shape.width == 12
    assert PLOT_DTYPE.names[:3] == ("cpi", "range_pos", "doppler_pos")


@pytest.mark.parametrize("kwargs,exc,msg", [
    (dict(config=None), TypeError, "config must be a TrackerConfig, not None"),
    (dict(power_bits=0), ValueError, "power_bits must be >= 1, not 0"),
    (dict(power_bits=8.0), TypeError, "power_bits must be an integer, not 8.0"),
])
def test_parameter_errors(kwargs, exc, msg):
    args = dict(config=TrackerConfig(radar=UHF), power_bits=16) | kwargs
    with pytest.raises(exc) as info:
        Tracker(args.pop("config"), **args)
    assert str(info.value) == msg
