# amaranth: UnusedElaboratable=no
import random

import pytest
from amaranth.sim import Simulator

from amaradar.hdl.formats import pack, record_layout
from amaradar.hdl.link.report_framer import ReportFramer
from amaradar.spec.link import STATUS_FIELDS, Decoder, Detection, Plot, Status, Track
from amaradar.spec.records import DETECTION, PLOT, RESET_FLAG, TRACK
from amaradar.sim.models.link.report_framer import report_framer

from amaradar.sim.engines.streams import StreamProtocolError, cocotb_stream, simulate_stream

RANGE_BITS, POWER_BITS = 10, 36
# the width parameters of each record's framer
WIDTHS = {Detection: {"range_bits": RANGE_BITS, "power_bits": POWER_BITS},
          Plot: {"range_pos_bits": RANGE_BITS + 8, "doppler_pos_bits": 12, "power_bits": POWER_BITS},
          Track: {"id_bits": 20, "range_pos_bits": RANGE_BITS + 8, "rate_bits": 23, "age_bits": 5,
                  "misses_bits": 3, "plot_bits": 6}}
# The status fields that are input ports (the framer counts the other two itself).
PORTS = tuple(name for name, _ in STATUS_FIELDS if name not in ("dropped_cap", "dropped_full"))


def _detections(rng, n_cpi, per_cpi, first_cpi=0):
    """``per_cpi`` random detections for each of ``n_cpi`` CPIs, in pulse order."""
    out = []
    for cpi in range(first_cpi, first_cpi + n_cpi):
        pulses = sorted(rng.randrange(1 << 12) for _ in range(per_cpi))
        for pulse in pulses:
            threshold = rng.randrange(1 << POWER_BITS)
            out.append(Detection(cpi & 0xFFFF, pulse, rng.randrange(1 << RANGE_BITS),
                                 rng.randrange(threshold, 1 << POWER_BITS), threshold))
    return out


def _plots(rng, n_cpi, per_cpi, first_cpi=0):
    """``per_cpi`` random plots for each of ``n_cpi`` CPIs."""
    widths = WIDTHS[Plot]
    out = []
    for cpi in range(first_cpi, first_cpi + n_cpi):
        for _ in range(per_cpi):
            threshold = rng.randrange(1 << POWER_BITS)
            out.append(Plot(cpi & 0xFFFF, rng.randrange(1 << widths["range_pos_bits"]),
                            rng.randrange(1 << widths["doppler_pos_bits"]),
                            rng.randrange(threshold, 1 << POWER_BITS), threshold))
    return out


def _status(rng, cpi):
    return Status(cpi=cpi, flags=rng.getrandbits(8) & ~RESET_FLAG, preset=rng.getrandbits(8),
                  dropped_samples=rng.getrandbits(32),
                  dropped_cap=0, dropped_full=0, range_bins=1 << RANGE_BITS, pulses=64,
                  sample_rate=rng.getrandbits(32), pri=rng.getrandbits(32),
                  pulse_samples=rng.getrandbits(16))


def _cpis_with_heartbeats(rng, reports, counts):
    """A status frame, then for each CPI ``counts[cpi]`` reports of ``reports`` (``_detections``
    or ``_plots``) and the status frame of the next CPI."""
    events = [_status(rng, 0)]
    for cpi, n in enumerate(counts):
        events += reports(rng, 1, n, first_cpi=cpi)
        events.append(_status(rng, cpi + 1))
    return events


def _words(reports):
    kind = type(reports[0])
    layout = record_layout({Detection: DETECTION, Plot: PLOT, Track: TRACK}[kind], **WIDTHS[kind])
    return pack(layout, **{name: [getattr(r, name) for r in reports] for name in kind._fields})


def _ports(status):
    return {name: getattr(status, name) for name in PORTS}


def _run_events(dut, events, *, p_in_stall, p_out_stall, seed, expect_bytes=None, cycles=None):
    """Drive detections and heartbeats in order; collect the bytes of ``o``.

    A ``Status`` after the first waits until the framer is idle (``o.valid`` low for
    3 clocks: frames of a busy framer are 1 clock apart), sets the status ports and
    strobes ``heartbeat``. The first event must be the ``Status`` of the ports at
    reset. Collects ``expect_bytes`` bytes, or runs ``cycles`` clocks when it is None.
    """
    rng = random.Random(seed)
    out = []

    async def source(ctx):
        for name, value in _ports(events[0]).items():
            ctx.set(getattr(dut, name), value)
        for event in events[1:]:
            if isinstance(event, Status):
                ctx.set(dut.i.valid, 0)
                await ctx.tick().repeat(4)  # the last detection reaches the serializer
                idle = 0
                while idle < 3:
                    _, _, valid = await ctx.tick().sample(dut.o.valid)
                    idle = 0 if valid else idle + 1
                for name, value in _ports(event).items():
                    ctx.set(getattr(dut, name), value)
                ctx.set(dut.heartbeat, 1)
                await ctx.tick()
                ctx.set(dut.heartbeat, 0)
                continue
            while rng.random() < p_in_stall:
                ctx.set(dut.i.valid, 0)
                await ctx.tick()
            ctx.set(dut.i.payload.as_value(), _words([event])[0])
            ctx.set(dut.i.valid, 1)
            await ctx.tick()
            assert ctx.get(dut.i.ready) == 1
        ctx.set(dut.i.valid, 0)

    async def sink(ctx):
        pending = None
        for _ in range(cycles or 100 + 3 * expect_bytes):
            ready = rng.random() >= p_out_stall
            ctx.set(dut.o.ready, ready)
            _, _, valid, byte = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            if pending is not None and (not valid or byte != pending):
                raise StreamProtocolError(f"o dropped or changed a waiting byte after {len(out)}")
            pending = byte if valid and not ready else None
            if valid and ready:
                out.append(byte)
                if len(out) == expect_bytes:
                    return
        if expect_bytes is not None:
            raise AssertionError(f"timeout: {len(out)} of {expect_bytes} bytes")

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(source, background=True)
    sim.add_testbench(sink)
    sim.run()
    return out


@pytest.mark.parametrize("p_in_stall, p_out_stall", [(0.0, 0.5), (0.3, 0.8), (0.6, 0.0)])
def test_detections_bit_exact(p_in_stall, p_out_stall):
    """Bursts of detections, random stalls on the bytes, a queue deep enough never to drop."""
    rng = random.Random(int(10 * p_out_stall))
    boot = _status(rng, 7)
    detections = _detections(rng, 3, 8)
    expect, dropped = report_framer([boot, *detections], cap=8)
    assert dropped == 0
    dut = ReportFramer(range_bits=RANGE_BITS, power_bits=POWER_BITS, cap=8, depth=len(detections))
    out = simulate_stream(dut, _words(detections), len(expect), p_in_stall=p_in_stall,
                          p_out_stall=p_out_stall, seed=1, ports={**_ports(boot), "heartbeat": 0})
    assert out == expect.tolist()
    decoder = Decoder()
    assert decoder.feed(bytes(out)) == [boot._replace(flags=boot.flags | RESET_FLAG), *detections]


def test_heartbeats_and_cap_bit_exact():
    """Status frames between CPIs; the cap drops reports and the counter says how many."""
    events = _cpis_with_heartbeats(random.Random(5), _detections, [3, 9, 1, 6])
    cap = 4
    expect, dropped = report_framer(events, cap=cap)
    per_cpi = [sum(isinstance(e, Detection) and e.cpi == c for e in events) for c in range(4)]
    assert dropped == sum(max(0, n - cap) for n in per_cpi) > 0
    dut = ReportFramer(range_bits=RANGE_BITS, power_bits=POWER_BITS, cap=cap, depth=16)
    out = _run_events(dut, events, p_in_stall=0.2, p_out_stall=0.5, seed=3,
                      expect_bytes=len(expect))
    assert out == expect.tolist()
    messages = Decoder().feed(bytes(out))
    statuses = [m for m in messages if isinstance(m, Status)]
    assert statuses[-1].dropped_cap == dropped
    assert [s.cpi for s in statuses] == [0, 1, 2, 3, 4]
    # the first status frame after reset, and only that one, says a reset happened
    assert [s.flags & RESET_FLAG for s in statuses] == [RESET_FLAG, 0, 0, 0, 0]


def test_cap_restarts_when_cpi_changes_back():
    """A new CPI is any change of ``cpi``; the cap counts from the first detection of each."""
    rng = random.Random(9)
    boot = _status(rng, 0)
    detections = [d._replace(cpi=c) for d, c in zip(_detections(rng, 1, 9), [1, 1, 1, 2, 2, 1, 1, 1, 1])]
    expect, dropped = report_framer([boot, *detections], cap=2)
    assert dropped == 3
    dut = ReportFramer(range_bits=RANGE_BITS, power_bits=POWER_BITS, cap=2, depth=8)
    out = simulate_stream(dut, _words(detections), len(expect), p_out_stall=0.3, seed=4,
                          ports={**_ports(boot), "heartbeat": 0})
    assert out == expect.tolist()


def test_full_queue_drops_and_counts_without_stalling():
    """A slow byte sink and a tiny queue: reports are lost whole, in order, and counted."""
    rng = random.Random(11)
    boot = _status(rng, 0)
    detections = _detections(rng, 1, 40)
    events = [boot, *detections, _status(rng, 1)]
    dut = ReportFramer(range_bits=RANGE_BITS, power_bits=POWER_BITS, cap=100, depth=2)
    out = _run_events(dut, events, p_in_stall=0.5, p_out_stall=0.9, seed=2, cycles=12000)
    decoder = Decoder()
    messages = decoder.feed(bytes(out)) + decoder.finish()
    assert decoder.resync_bytes == 0 and decoder.crc_errors == 0
    assert isinstance(messages[0], Status) and isinstance(messages[-1], Status)
    received = messages[1:-1]
    it = iter(detections)
    assert all(any(r == d for d in it) for r in received), "not an ordered subset of the input"
    lost = messages[-1].dropped_full
    assert lost > 0 and len(received) + lost == len(detections)
    assert messages[-1].dropped_cap == 0


@pytest.mark.parametrize("record, reports", [("detection", _detections), ("plot", _plots)])
def test_cocotb_bit_exact(record, reports):
    """Reports of 4 CPIs across the CPI counter's wrap, 5 a CPI, capped at 4."""
    rng = random.Random(21)
    boot = _status(rng, 3)
    framed = reports(rng, 4, 5, first_cpi=0xFFFE)
    expect, dropped = report_framer([boot, *framed], cap=4)
    assert dropped == 4
    dut = ReportFramer(record=record, cap=4, depth=len(framed), **WIDTHS[type(framed[0])])
    out = cocotb_stream(dut, f"report_framer_{record}", _words(framed), len(expect),
                        p_in_stall=0.3, p_out_stall=0.6, seed=5,
                        ports={**_ports(boot), "heartbeat": 0})
    assert out == expect.tolist()


def test_plots_bit_exact_with_heartbeats_and_cap():
    """Plot frames: status frames between CPIs, random stalls both sides, the cap."""
    events = _cpis_with_heartbeats(random.Random(13), _plots, [2, 7, 0, 4])
    expect, dropped = report_framer(events, cap=5)
    assert dropped == 2
    dut = ReportFramer(record="plot", cap=5, depth=16, **WIDTHS[Plot])
    out = _run_events(dut, events, p_in_stall=0.3, p_out_stall=0.6, seed=8,
                      expect_bytes=len(expect))
    assert out == expect.tolist()
    messages = Decoder().feed(bytes(out))
    assert sum(isinstance(m, Plot) for m in messages) == 13 - dropped
    assert messages[-1].dropped_cap == dropped


def test_tracks_without_status_frames():
    """Track frames only (no status frame, not even after reset), signed range rates
    sign-extended on the link, random stalls on both sides."""
    rng = random.Random(17)
    w = WIDTHS[Track]
    rate = 1 << (w["rate_bits"] - 1)
    tracks = [Track(cpi, rng.randrange(1 << w["id_bits"]), rng.randrange(3),
                    rng.randrange(1 << w["range_pos_bits"]), rng.choice([-rate, rate - 1, -1, 0])
                    if k % 2 else rng.randrange(-rate, rate), rng.randrange(2),
                    rng.randrange(1 << w["age_bits"]), rng.randrange(1 << w["misses_bits"]),
                    rng.randrange(1 << w["plot_bits"]))
              for cpi in range(3) for k in range(6)]
    expect, dropped = report_framer(tracks, cap=6)
    assert dropped == 0
    dut = ReportFramer(record="track", cap=6, depth=len(tracks), status_frames=False, **w)
    assert "heartbeat" not in dut.signature.members and "cpi" not in dut.signature.members
    out = simulate_stream(dut, _words(tracks), len(expect), p_in_stall=0.6, p_out_stall=0.5,
                          seed=9)
    assert out == expect.tolist()
    assert Decoder().feed(bytes(out)) == tracks
    assert min(t.range_rate for t in tracks) < 0


@pytest.mark.parametrize("kwargs, error, message", [
    ({"record": "hit"}, ValueError, "record must be one of ['detection', 'plot', 'track'], not 'hit'"),
    ({"record": "plot", "range_bits": None, "power_bits": 36, "range_pos_bits": 25,
      "doppler_pos_bits": 12}, ValueError, "range_pos_bits must be between 1 and 24, not 25"),
    ({"range_bits": 17}, ValueError, "range_bits must be between 1 and 16, not 17"),
    ({"range_bits": 0}, ValueError, "range_bits must be between 1 and 16, not 0"),
    ({"power_bits": 49}, ValueError, "power_bits must be between 1 and 48, not 49"),
    ({"power_bits": "36"}, TypeError, "power_bits must be an integer, not '36'"),
    ({"cap": 0}, ValueError, "cap must be >= 1, not 0"),
    ({"cap": True}, TypeError, "cap must be an integer, not True"),
    ({"depth": 0}, ValueError, "depth must be >= 1, not 0"),
])
def test_bad_parameters(kwargs, error, message):
    params = {"range_bits": RANGE_BITS, "power_bits": POWER_BITS, "cap": 4, **kwargs}
    params = {name: value for name, value in params.items() if value is not None}
    with pytest.raises(error) as info:
        ReportFramer(**params)
    assert str(info.value) == message
