import numpy as np
import pytest
from amaranth import Cat, Instance, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from amaradar.hdl.formats import complex_layout
from amaradar.hdl.numerics import saturate
from amaradar.hdl.stream.skid_buffer import SkidBuffer
from amaradar.sim.engines.payloads import pack_bytes, unpack_bytes
from amaradar.sim.engines.rtl_engine import RtlBuildError, RtlEngine, RtlRunError, run_stream

ACC_WIDTH = 20
IN_LAYOUT = data.StructLayout({"data": signed(16), "tag": unsigned(62), "first": 1, "last": 1})
OUT_LAYOUT = data.StructLayout({"sum": signed(ACC_WIDTH), "tag": unsigned(62), "key_hi": unsigned(18),
                                "last": 1})


class FramedAccumulator(wiring.Component):
    """Running sum of ``gain * data`` over each range line (restarting at ``first``).

    Payloads wider than 64 bits both ways, a wide constant port (``key``), and
    status ports: sticky ``overflow``, a word ``count``, the signed ``lowest`` sum
    and the wide ``last_tag`` (``key_hi`` and ``tag`` of the last output).
    """

    i: In(stream.Signature(IN_LAYOUT))
    o: Out(stream.Signature(OUT_LAYOUT))
    gain: In(signed(4))
    key: In(unsigned(80))
    overflow: Out(1)
    count: Out(32)
    lowest: Out(signed(ACC_WIDTH))
    last_tag: Out(unsigned(80))

    def elaborate(self, platform):
        m = Module()
        acc = Signal(signed(ACC_WIDTH))
        lowest = Signal(signed(ACC_WIDTH), init=(1 << (ACC_WIDTH - 1)) - 1)
        m.d.comb += [self.lowest.eq(lowest),
                     self.last_tag.eq(Cat(self.o.payload.tag, self.o.payload.key_hi))]
        en = ~self.o.valid | self.o.ready
        m.d.comb += self.i.ready.eq(en)
        total, over = saturate(Mux(self.i.payload.first, 0, acc) + self.i.payload.data * self.gain,
                               ACC_WIDTH)
        with m.If(en):
            m.d.sync += self.o.valid.eq(self.i.valid)
            with m.If(self.i.valid):
                m.d.sync += [
                    acc.eq(total),
                    self.o.payload.sum.eq(total),
                    self.o.payload.tag.eq(self.i.payload.tag ^ self.key[:62]),
                    self.o.payload.key_hi.eq(self.key[62:]),
                    self.o.payload.last.eq(self.i.payload.last),
                    self.count.eq(self.count + 1),
                    self.overflow.eq(self.overflow | over),
                ]
                with m.If(total < lowest):
                    m.d.sync += lowest.eq(total)
        return m


def accumulator_model(columns, gain, key):
    """Expected output columns and status of :class:`FramedAccumulator`."""
    lo, hi = -(1 << (ACC_WIDTH - 1)), (1 << (ACC_WIDTH - 1)) - 1
    sums, acc, overflow = [], 0, False
    for value, first in zip(columns["data"].tolist(), columns["first"].tolist()):
        total = (0 if first else acc) + value * gain
        acc = min(max(total, lo), hi)
        overflow |= acc != total
        sums.append(acc)
    tags = columns["tag"] ^ (key & ((1 << 62) - 1))
    status = {"overflow": int(overflow), "count": len(sums), "lowest": min(sums),
              "last_tag": int(tags[-1]) | (key >> 62) << 62}
    return np.array(sums), tags, status


def accumulator_inputs(n, seed, data_bits=6):
    rng = np.random.default_rng(seed)
    k = np.arange(n)
    return {
        "data": rng.integers(-(1 << (data_bits - 1)), 1 << (data_bits - 1), n),
        "tag": rng.integers(0, 1 << 62, n, dtype=np.int64),
        "first": (k % 37 == 0).astype(np.int64),
        "last": (k % 37 == 36).astype(np.int64),
    }


class Counter(wiring.Component):
    """A source: ``o`` counts 0, 1, 2, ... With ``cheat`` set it also counts while
    stalled, which breaks the stream rule."""

    o: Out(stream.Signature(unsigned(16)))
    cheat: In(1)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.o.valid.eq(1)
        with m.If((self.o.valid & self.o.ready) | self.cheat):
            m.d.sync += self.o.payload.eq(self.o.payload + 1)
        return m


class Broken(wiring.Component):
    """Verilog that Verilator rejects: an instance of a module that does not exist."""

    i: In(stream.Signature(8))
    o: Out(stream.Signature(8))

    def elaborate(self, platform):
        m = Module()
        m.submodules.missing = Instance("no_such_module_anywhere", i_a=self.i.payload,
                                        o_y=self.o.payload)
        m.d.sync += self.o.valid.eq(self.i.valid)
        m.d.comb += self.i.ready.eq(1)
        return m


@pytest.fixture(scope="module")
def skid():
    return RtlEngine(SkidBuffer(complex_layout(11)), name="test_skid")


@pytest.fixture(scope="module")
def accumulator():
    return RtlEngine(FramedAccumulator(), name="test_accumulator")


def _words(n, nbytes, width, seed):
    words = np.random.default_rng(seed).integers(0, 256, (n, nbytes), dtype=np.uint8)
    words[:, -1] &= (1 << (width - 8 * (nbytes - 1))) - 1
    return words


@pytest.mark.parametrize("p_stall", [0.0, 0.4, 0.8])
def test_skid_buffer_passes_every_word(skid, p_stall):
    words = _words(5000, 3, 22, seed=1)
    run = skid.run(words, p_in_stall=p_stall, p_out_stall=p_stall, seed=7, drain_cycles=20)
    np.testing.assert_array_equal(run.outputs, words)
    assert run.status == {}
    if p_stall == 0.0:
        assert run.cycles == len(words) + 1 + 20  # one cycle of latency, then the drain
    else:
        assert run.cycles > 0.9 * len(words) / (1 - p_stall)


def test_stalls_depend_on_seed(skid):
    words = _words(2000, 3, 22, seed=2)
    cycles = {skid.run(words, p_in_stall=0.5, p_out_stall=0.5, seed=s).cycles for s in range(3)}
    assert len(cycles) == 3


def test_progress_reports_accepted_words(skid):
    words = _words(3 << 18, 3, 22, seed=3)
    seen = []
    run = skid.run(words, progress=seen.append)
    assert seen == [1 << 18, 2 << 18, 3 << 18]
    np.testing.assert_array_equal(run.outputs, words)


@pytest.mark.parametrize("p_stall", [0.0, 0.5])
@pytest.mark.parametrize("gain", [-5, 3])
def test_accumulator_wide_payloads_ports_and_status(accumulator, p_stall, gain):
    key = (1 << 79) | 0x1234_5678_9ABC_DEF0_1357
    columns = accumulator_inputs(3000, seed=abs(gain))
    sums, tags, status = accumulator_model(columns, gain, key)
    assert not status["overflow"]
    run = accumulator.run(pack_bytes(IN_LAYOUT, columns), ports={"gain": gain, "key": key},
                          p_in_stall=p_stall, p_out_stall=p_stall, seed=11)
    out = unpack_bytes(OUT_LAYOUT, run.outputs)
    np.testing.assert_array_equal(out["sum"], sums)
    np.testing.assert_array_equal(out["last"], columns["last"])
    np.testing.assert_array_equal(out["tag"], tags)
    assert (out["key_hi"] == key >> 62).all()
    assert run.status == status


def test_accumulator_overflow_is_reported(accumulator):
    columns = accumulator_inputs(2000, seed=5, data_bits=16)
    columns["first"][:] = 0
    columns["first"][0] = 1
    sums, _, status = accumulator_model(columns, -7, 0)
    assert status["overflow"] and status["lowest"] == -(1 << (ACC_WIDTH - 1))
    run = accumulator.run(pack_bytes(IN_LAYOUT, columns), ports={"gain": -7}, p_out_stall=0.3)
    np.testing.assert_array_equal(unpack_bytes(OUT_LAYOUT, run.outputs)["sum"], sums)
    assert run.status == status


def test_source_with_output_limit_and_stalls():
    engine = RtlEngine(Counter(), name="test_counter")
    assert engine.in_bytes is None and engine.ports == ("cheat",)
    run = engine.run(max_outputs=1000, p_out_stall=0.6, seed=3)
    words = run.outputs.view("<u2")[:, 0]
    np.testing.assert_array_equal(words, np.arange(1000))
    assert run.cycles > 1000
    with pytest.raises(RtlRunError, match="o dropped or changed a waiting word at cycle"):
        engine.run(max_outputs=1000, ports={"cheat": 1}, p_out_stall=0.5)
    assert len(engine.run(max_cycles=50).outputs) == 50  # o.valid rose on the edge before cycle 0


def test_run_stream_builds_once(tmp_path, monkeypatch):
    monkeypatch.setenv("AMARADAR_CACHE", str(tmp_path))
    first = RtlEngine(SkidBuffer(unsigned(70)), name="cached")
    assert first.rebuilt and first.executable.is_relative_to(tmp_path / "verilator")
    built = first.executable.stat().st_mtime_ns
    second = RtlEngine(SkidBuffer(unsigned(70)), name="cached")
    assert not second.rebuilt
    assert second.executable == first.executable and second.executable.stat().st_mtime_ns == built
    words = _words(100, 9, 70, seed=4)
    np.testing.assert_array_equal(run_stream(SkidBuffer(unsigned(70)), name="cached",
                                             inputs=words).outputs, words)
    assert [p.name for p in (tmp_path / "verilator").iterdir() if p.is_dir()
            and p.name.startswith("cached-")] == [first.executable.parent.name]


def test_build_error_shows_the_log():
    with pytest.raises(RtlBuildError, match=r"(?s)Verilator build of 'test_broken' failed.*"
                                            r"no_such_module_anywhere"):
        RtlEngine(Broken(), name="test_broken")


def test_run_errors(skid):
    words = _words(100, 3, 22, seed=6)
    with pytest.raises(RtlRunError, match=r"the design accepted 10 of 100 input words before "
                                          r"the run ended \(max_cycles, 10 cycles\)"):
        skid.run(words, max_cycles=10)
    with pytest.raises(ValueError, match=r"inputs must be a uint8 array of shape \(n, 3\), "
                                         r"not int64 \(100, 3\)"):
        skid.run(words.astype(np.int64))
    too_wide = words.copy()
    too_wide[5, 2] |= 0x40
    with pytest.raises(ValueError, match="inputs have bits set above the 22-bit payload"):
        skid.run(too_wide)
    with pytest.raises(KeyError, match=r"component has no input port\(s\) \['gain'\]; it has \[\]"):
        skid.run(words, ports={"gain": 1})
    with pytest.raises(ValueError, match=r"drain_cycles must be >= 1, not 0"):
        skid.run(words, drain_cycles=0)
    with pytest.raises(ValueError, match=r"p_out_stall must be in \[0, 1\), not 1.0"):
        skid.run(words, p_out_stall=1.0)


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_parameter_errors(accumulator):
    with pytest.raises(ValueError, match=r"port 'gain' takes an integer in \[-8, 7\], not 8"):
        accumulator.run(np.zeros((1, 10), np.uint8), ports={"gain": 8})
    with pytest.raises(ValueError, match=r"name must be letters, digits, '_' or '-', not 'a b'"):
        RtlEngine(SkidBuffer(8), name="a b")
    with pytest.raises(TypeError, match=r"component must be a wiring.Component, not 3"):
        RtlEngine(3, name="x")
    source = Counter()
    with pytest.raises(ValueError, match="a component without an 'i' stream needs max_outputs "
                                         "or max_cycles"):
        RtlEngine(source, name="test_counter").run()
    with pytest.raises(ValueError, match="inputs must be None: the component has no 'i' stream"):
        RtlEngine(source, name="test_counter").run(np.zeros((1, 2), np.uint8), max_outputs=1)
