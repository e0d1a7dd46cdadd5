"""Board descriptions and the build of one board: bitstream plus ``resources.json``.

A :class:`~amaradar.boards.board.Board` (the boards are listed in
:mod:`amaradar.boards.registry`) names the amaranth-boards platform, the clock its
PLL makes, the scenario it is built for, the presets its on-chip echo source plays
and how the chain is cut down to fit. :func:`build_board` elaborates
:class:`~amaradar.boards.top.BoardTop`, runs Yosys and nextpnr (the YoWASP builds
from PyPI), checks fit and timing from nextpnr's report and writes::

    OUT/<board>.<bin|bit|fs>   the bitstream
    OUT/resources.json          the schema of :func:`build_board`
    OUT/build/                  Amaranth's build tree and ``build.log``
"""

import json
import shutil
import time
from pathlib import Path

import numpy as np

from ..hdl.waveform.echo_source import AMPLITUDE_WIDTH, PHASE_WIDTH
from ..hdl.formats import COEF_WIDTH
from ..sim.chain import chain_config, transmit_pulse
from ..sim.tracking import tracker_config
from ..sim.models.waveform.echo_source import target_entries
from ..spec.link import TYPE_DETECTION, TYPE_PLOT, TYPE_STATUS, TYPE_TRACK, frame_bytes
from ..sim.world.echo_physics import (carrier_phase_turns, doppler_hz, echo_amplitude,
                                      echo_delay_s)
from ..sim.world.scenario import parse_scenario
from .toolchain import NEXTPNR_OPTS, check_report, read_report, run_plan, tool_versions
from .top import BoardCore, BoardTop, EchoPreset

__all__ = ["LINK_LOAD_LIMIT", "board_config", "sample_period", "link_budget", "board_core", "echo_preset",
           "board_resources", "build_board"]

LINK_LOAD_LIMIT = 0.8   # most of the UART's byte rate the worst-case report traffic may use

# The report framer's queue (``amaranth.lib.fifo.SyncFIFOBuffered``) never reads the
# entry it writes in the same clock, so its read port may leave that collision
# undefined: Yosys then maps it to block RAM without emulating read-first behaviour
# (a register and a multiplexer per bit of the queue).
_QUEUE_WITHOUT_COLLISIONS = "setparam -set COLLISION_X_MASK 1 top.core.framer.queue/t:$memrd_v2"



def board_config(board):
    """The chain configuration of ``board``: its scenario's, with the board's widths,
    the CFAR reporting peaks only (plots: the link carries one report per target
    and line, not every cell over the threshold)."""
    return chain_config(board.parsed, coef_width=board.coef_width,
                        mf_output_width=board.mf_output_width, cfar_peaks=True,
                        mf_round_stage=board.fast_clock)


def sample_period(board):
    """Clocks per ADC sample of ``board``: its clock over its scenario's sample rate."""
    rate = board.parsed.radar.sample_rate_hz
    period = board.clock_hz / rate
    if period != int(period):
        raise ValueError(f"{board.name}: the sample rate of {rate:g} Hz must divide the "
                         f"{board.clock_hz:g} Hz clock")
    return int(period)


def link_budget(board):
    """Worst-case report traffic of ``board`` against its UART.

    Every CPI sends one status frame and at most ``report_cap`` report frames
    (detections, or plots of a range-Doppler chain, then up to ``max_tracks``
    track frames of its tracker);
    the UART moves ``uart_baud / 10`` bytes per second (8N1). Raises
    ``ValueError`` when that traffic needs more than :data:`LINK_LOAD_LIMIT` of it.
    """
    r = board.parsed.radar
    cpis_per_second = r.sample_rate_hz / (r.line_samples * r.pulses_per_cpi)
    report = TYPE_PLOT if board.parsed.doppler else TYPE_DETECTION
    bytes_per_cpi = frame_bytes(TYPE_STATUS) + board.report_cap * frame_bytes(report)
    if board.parsed.tracker is not None:
        bytes_per_cpi += board.parsed.tracker.max_tracks * frame_bytes(TYPE_TRACK)
    budget = {"cpis_per_second": cpis_per_second, "bytes_per_cpi": bytes_per_cpi,
              "bytes_per_second": cpis_per_second * bytes_per_cpi,
              "link_bytes_per_second": board.uart_baud / 10}
    budget["load"] = budget["bytes_per_second"] / budget["link_bytes_per_second"]
    if budget["load"] > LINK_LOAD_LIMIT:
        raise ValueError(
            f"{board.name}: {board.report_cap} reports per CPI at {cpis_per_second:.1f} CPIs/s "
            f"need {budget['bytes_per_second']:,.0f} B/s, more than {LINK_LOAD_LIMIT:.0%} of the "
            f"{board.uart_baud:,}-baud link ({budget['link_bytes_per_second']:,.0f} B/s)")
    return budget


def board_core(board):
    """:class:`~amaradar.boards.top.BoardCore` of ``board``: the design its bitstream holds,
    without PLL and pins."""
    period = sample_period(board)
    tracking = board.parsed.tracker
    tracker = {} if tracking is None else {
        "tracker": tracker_config(board.parsed.radar, tracking),
        "tracker_runtime": tracking.runtime()}
    return BoardCore(config=board_config(board), preset=echo_preset(board),
                     sample_rate=board.clock_hz // period, sample_period=period,
                     cap=board.report_cap, fast_clock=board.fast_clock, **tracker)


def echo_preset(board):
    """The echo source's pulse, target tables and noise for ``board``'s presets.

    Each target sits at its range at time 0: delay ``round(2 R fs / c)`` samples,
    carrier phase ``-2 R / lambda`` turns, Doppler ``-2 v T / lambda`` turns per
    line, and the amplitude of the scenario's per-sample SNR against
    ``noise_rms_lsb``. A slot that a preset leaves empty holds preset 0's entry,
    disabled (bits that agree between presets cost no logic).
    """
    if not isinstance(board.presets, tuple):
        raise TypeError(f"{board.name}: presets must be a tuple of target lists, "
                        f"not {type(board.presets).__name__}")
    r = board.parsed.radar
    peak = (1 << (board.echo_pulse_width - 1)) - 1
    pulse = np.round(transmit_pulse(r) * (peak / ((1 << (COEF_WIDTH - 1)) - 1)))
    tables = []
    for n, preset in enumerate((board.scenario.get("target", []), *board.presets)):
        try:
            targets = parse_scenario({**board.scenario, "target": preset}).targets
            entries = target_entries([_echo_target(board, r, peak, t) for t in targets],
                                     line_length=r.line_samples, max_targets=board.max_targets)
        except ValueError as error:
            raise ValueError(f"{board.name} preset {n}: {error}") from None
        tables.append(tuple(entries[:len(targets)]) + tuple(
            dict(entry, enable=0) for entry in (tables[0] if tables else entries)[len(targets):]))
    return EchoPreset(pulse=tuple(complex(x) for x in pulse), pulse_width=board.echo_pulse_width,
                      tables=tuple(tables), max_targets=board.max_targets,
                      noise_scale=round(r.noise_rms_lsb * 256), seed=r.noise_seed)


def _echo_target(board, r, peak, t):
    """The echo source entry of scenario target ``t`` (see :func:`echo_preset`)."""
    volts = echo_amplitude(t.snr_db, r.noise_rms_lsb)
    amplitude = round(volts / peak * (1 << AMPLITUDE_WIDTH))
    if amplitude >= 1 << AMPLITUDE_WIDTH:
        raise ValueError(f"target at {t.range_m} m: snr_db {t.snr_db} is too strong for "
                         f"a {board.echo_pulse_width}-bit echo pulse")
    turns = 1 << PHASE_WIDTH
    return {
        "delay": round(echo_delay_s(t.range_m) * r.sample_rate_hz),
        "amplitude": amplitude,
        "phase": round(carrier_phase_turns(t.range_m, r.wavelength_m) * turns) % turns,
        "doppler": round(doppler_hz(t.radial_velocity_mps, r.wavelength_m) * r.pri_s * turns) % turns,
    }


def board_resources(board, report, *, build_seconds):
    """The ``resources.json`` content of ``board`` from nextpnr's ``report`` (a path)."""
    config = board_config(board)
    preset = echo_preset(board)
    return {
        "board": board.name,
        "device": board.device,
        **read_report(report),
        "tool_versions": tool_versions(),
        "configuration": {
            **config.as_dict(),
            "clock_hz": board.clock_hz,
            "echo": {"pulse_width": preset.pulse_width, "max_targets": preset.max_targets,
                     "presets": [list(t) for t in preset.tables],
                     "noise_scale": preset.noise_scale, "seed": preset.seed},
            "uart_baud": board.uart_baud,
            "report_cap": board.report_cap,
            "sample_period": sample_period(board),
        },
        "throughput": {
            "samples_per_clock": 1,
            "samples_per_second": board.clock_hz,
            "range_lines_per_second": board.clock_hz / config.line_length,
        },
        "real_time": {
            "samples_per_second": board.clock_hz / sample_period(board),
            **link_budget(board),
        },
        "build_seconds": build_seconds,
    }


def build_board(board, out_dir, *, progress=print):
    """Build ``board`` into ``out_dir`` and return the ``resources.json`` content.

    ``resources.json``::

        board, device          names
        clocks                 {net: {achieved_mhz, required_mhz, met}} (nextpnr)
        utilization            {cell kind: {used, available}} (nextpnr)
        tool_versions          {PyPI distribution: version}
        configuration          the chain (``ChainConfig.as_dict``), the echo presets,
                               clock_hz, uart_baud, report_cap, sample_period
        throughput             what the chain can take: samples_per_second,
                               samples_per_clock, range_lines_per_second
        real_time              what the board plays (the scenario's samples_per_second)
                               and its report traffic (:func:`link_budget`)
        build_seconds          wall time of the build

    Raises :class:`amaradar.boards.toolchain.BuildError` when a tool fails, or the
    design does not fit or misses timing (the report is still written).
    """
    out_dir = Path(out_dir)
    build_dir = out_dir / "build"
    build_dir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    config = board_config(board)
    link_budget(board)
    top = BoardTop(clocking=board.clocking(), clock_hz=board.clock_hz, core=board_core(board),
                   baud=board.uart_baud)
    progress(f"{board.name}: elaborating the design ({len(config.taps)}-tap matched filter, "
             f"{config.line_length}-sample lines, {board.clock_hz / 1e6:g} MHz clock)")
    overrides = {"debug_verilog": False, **board.overrides}
    overrides["nextpnr_opts"] = " ".join(filter(None, (NEXTPNR_OPTS, overrides.get("nextpnr_opts"))))
    overrides["script_after_read"] = "\n".join(
        filter(None, (_QUEUE_WITHOUT_COLLISIONS, overrides.get("script_after_read"))))
    plan = board.platform().prepare(top, name="top", **overrides)
    progress(f"{board.name}: synthesis, place and route (log: {build_dir / 'build.log'})")
    run_plan(plan, build_dir)
    resources = board_resources(board, build_dir / "report.json",
                                build_seconds=round(time.monotonic() - start, 1))
    (out_dir / "resources.json").write_text(json.dumps(resources, indent=2) + "\n")
    shutil.copyfile(build_dir / f"top.{board.bitstream}", out_dir / f"{board.name}.{board.bitstream}")
    check_report(resources)
    return resources
