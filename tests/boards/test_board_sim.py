"""Board designs in Verilator: the report bytes of each board equal the models', bit for bit.

:class:`~amaradar.boards.top.BoardCore` (a board's design without PLL and pins,
its reports detections, or plots where the board runs the range-Doppler chain)
runs in the rtl engine for ``CPIS`` CPIs plus one more, in real time (one ADC
sample every ``sample_period`` clocks, as on the board), its button pressed in
the middle of CPI 0 and held, so that CPI 0 plays preset 0 and the others preset
1; its report bytes are decoded with :class:`amaradar.spec.link.Decoder`, and they
equal the model chain: ``echo_lines`` (switched to preset 1 at CPI 1) ->
``reference_chain`` -> ``report_framer`` with the board's cap. The UART that
carries these bytes on the board is tested in ``test_uart_tx.py``.
"""

import csv
import io

import numpy as np
import pytest
from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from amaradar.boards.build import board_config, board_core, echo_preset, sample_period
from amaradar.spec.link import TYPE_STATUS, Decoder, Detection, Status, Track, encode, frame_bytes
from amaradar.host.listen import run_listen
from amaradar.host.writers.outputs import write_detections
from amaradar.host.writers.plot_outputs import write_plots
from amaradar.host.writers.track_outputs import write_tracks
from amaradar.sim.models.link.report_framer import report_framer
from amaradar.sim.engines.rtl_engine import RtlEngine
from amaradar.sim.world.scenario import parse_scenario
from amaradar.boards.registry import board_names, get_board
from board_reference import reference_board_tracks, reference_cpis

CPIS = 2
PLAYED = (0, 1, 1)      # the preset of CPI 0, 1, 2


class _PressedCore(wiring.Component):
    """``core`` with its button pressed from clock ``press`` on (and never released)."""

    def __init__(self, core, press):
        self._core, self._press = core, press
        super().__init__({name: Out(port.signature if name == "o" else port.shape)
                          for name, port in core.signature.members.items()
                          if port.flow == Out})

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self._core
        clock = Signal(range(self._press + 1))
        with m.If(clock != self._press):
            m.d.sync += clock.eq(clock + 1)
        m.d.comb += core.button.eq(clock == self._press)
        wiring.connect(m, core.o, wiring.flipped(self.o))
        m.d.comb += [getattr(self, name).eq(getattr(core, name))
                     for name in self.signature.members if name != "o"]
        return m


def _run(board, cpis, **stalls):
    """The board's core in the rtl engine for ``cpis`` CPIs, pressed as ``PLAYED`` says."""
    config = board_config(board)
    cpi_clocks = config.pulses_per_cpi * config.line_length * sample_period(board)
    design = _PressedCore(board_core(board), press=cpi_clocks // 2)
    return RtlEngine(design, name=f"board_core_{board.name}").run(
        max_cycles=cpis * cpi_clocks, drain_cycles=cpis * cpi_clocks, **stalls)


@pytest.fixture(scope="module", params=board_names())
def board_run(request):
    board = get_board(request.param)
    config, preset = board_config(board), echo_preset(board)
    reports, flags = reference_cpis(config, preset, CPIS, PLAYED)
    return (board, config, _run(board, CPIS + 1), (reports, flags),
            reference_board_tracks(board, reports, CPIS))


def test_link_bytes_decode_cleanly(board_run):
    _, config, result, _, _ = board_run
    decoder = Decoder()
    messages = decoder.feed(result.outputs.tobytes())
    assert decoder.crc_errors == 0 and decoder.resync_bytes == 0
    assert decoder.counts["status"] >= CPIS + 1
    # the targets are found every CPI
    assert decoder.counts["plot" if config.doppler else "detection"] >= CPIS
    tail = decoder.bytes - sum(len(encode(message)) for message in messages)
    assert 0 <= tail < frame_bytes(TYPE_STATUS)     # at most a frame cut by the run's end


def test_reports_equal_the_model_chain(board_run):
    board, config, result, (reports, flags), _ = board_run
    assert len({d.cpi for d in reports}) == CPIS
    messages = Decoder().feed(result.outputs.tobytes())
    # The reports of the first CPIS CPIs and the status frames sent up to the end
    # of the last one (status k carries cpi k); the tracks are the next test's.
    seen = [msg for msg in messages if not isinstance(msg, Track) and
            (msg.cpi <= CPIS if isinstance(msg, Status) else msg.cpi < CPIS)]
    statuses = [msg for msg in seen if isinstance(msg, Status)]
    assert [s.cpi for s in statuses] == list(range(CPIS + 1))
    # When a status frame starts is a matter of timing: it follows the reports
    # framed before it and the dropped_cap reports it counts.
    events, placed = list(reports), 0
    framed_before = 0
    for msg in seen:
        if not isinstance(msg, Status):
            framed_before += 1
            continue
        expected = Status(cpi=msg.cpi, flags=flags, preset=PLAYED[msg.cpi], dropped_samples=0,
                          dropped_cap=0, dropped_full=0, range_bins=config.line_length,
                          pulses=config.pulses_per_cpi,
                          sample_rate=board.clock_hz // sample_period(board),
                          pri=config.line_length, pulse_samples=len(config.taps))
        events.insert(framed_before + msg.dropped_cap + placed, expected)
        placed += 1
    model, _ = report_framer(events, cap=board.report_cap)
    got = np.frombuffer(b"".join(encode(msg) for msg in seen), dtype=np.uint8)
    np.testing.assert_array_equal(got, model)
    assert result.status["flags"] == flags
    assert result.status["dropped_full"] == 0
    assert result.status["preset"] == PLAYED[-1]


def test_tracks_equal_the_model_tracker(board_run):
    """A board with a tracker sends its track reports, those of the model tracker on
    the model chain's plots, each CPI's after the CPI's plots; none is dropped."""
    board, _, result, (reports, _), tracks = board_run
    if board.parsed.tracker is None:
        pytest.skip(f"{board.name} has no tracker")
    messages = Decoder().feed(result.outputs.tobytes())
    assert len(tracks) >= 2 * CPIS       # both targets start tentative tracks
    assert [m for m in messages if isinstance(m, Track) and m.cpi < CPIS] == tracks
    for cpi in range(CPIS):
        last_plot = max(n for n, m in enumerate(messages)
                        if type(m) is type(reports[0]) and m.cpi == cpi)
        first_track = min(n for n, m in enumerate(messages) if isinstance(m, Track) and m.cpi == cpi)
        assert last_plot < first_track
    assert result.status["tracks_dropped"] == 0


def test_listen_writes_the_rows_of_the_sim_path(board_run, tmp_path):
    """``amaradar listen`` on the board's bytes writes, for every report it
    receives, the row ``amaradar sim`` writes for it: range_m with the matched
    filter's N - 1 samples removed, N from the status frames (and a plot's radial
    velocity from the carrier given to listen)."""
    board, config, result, (reports, _), tracks = board_run
    scenario = parse_scenario(board.scenario)
    r = scenario.radar
    (tmp_path / "link.bin").write_bytes(result.outputs.tobytes())
    # The board plays the scenario in real time, so the status frames carry its
    # sample rate and PRI.
    run_listen(replay=tmp_path / "link.bin", out_dir=tmp_path / "listen", stdout=io.StringIO(),
               carrier=r.carrier_hz)
    write = write_plots if config.doppler else write_detections
    write(tmp_path / "sim.csv", scenario,
          {name: np.array([getattr(d, name) for d in reports]) for name in type(reports[0])._fields})
    with open(tmp_path / "listen" / "detections.csv") as f, open(tmp_path / "sim.csv") as g:
        listened, simulated = list(csv.reader(f)), list(csv.reader(g))
    assert listened[0] == simulated[0]
    # a report's cell: cpi, pulse and range_bin (detections) or cpi, range_bin and doppler_bin
    cell = (0, 5, 6) if config.doppler else (0, 1, 4)
    by_cell = {tuple(row[k] for k in cell): row for row in simulated[1:]}
    received = [row for row in listened[1:] if int(row[0]) < CPIS]
    assert len(received) >= CPIS and r.pulse_samples > 1
    for row in received:
        assert row == by_cell[tuple(row[k] for k in cell)]
    if tracks:
        write_tracks(tmp_path / "sim_tracks.csv", scenario,
                     {name: np.array([getattr(t, name) for t in tracks]) for name in Track._fields})
        listened = (tmp_path / "listen" / "tracks.csv").read_text().splitlines()
        simulated = (tmp_path / "sim_tracks.csv").read_text().splitlines()
        assert listened[:len(simulated)] == simulated     # then the tracks of later CPIs


def test_a_slow_link_drops_whole_reports_and_counts_them():
    """With the link far slower than the reports (as the UART is), every frame that
    leaves is whole and true, and the framer counts what it drops."""
    board = get_board("icebreaker")
    config, preset = board_config(board), echo_preset(board)
    result = _run(board, CPIS + 1, p_out_stall=0.9995, seed=3)
    decoder = Decoder()
    messages = decoder.feed(result.outputs.tobytes())
    assert decoder.crc_errors == 0 and decoder.resync_bytes == 0
    framed = [msg for msg in messages if isinstance(msg, Detection)]
    # the reference over one CPI more than the run has fully seen
    detections, _ = reference_cpis(config, preset, CPIS + 1, PLAYED)
    assert set(framed) <= set(detections)
    passed = {cpi: min(board.report_cap, sum(d.cpi == cpi for d in detections))
              for cpi in range(CPIS + 1)}
    dropped_full = result.status["dropped_full"]
    assert dropped_full > 0
    # what passed the cap left, was dropped, or still waits (queue of 16 and the serializer)
    assert sum(passed[c] for c in range(CPIS)) <= len(framed) + dropped_full + 17
    assert len(framed) + dropped_full <= sum(passed.values())
