import numpy as np
import pytest
from amaranth import Array, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import Out
from amaranth.sim import Simulator

from amaradar.hdl.waveform.echo_source import PHASE_TABLE_BITS, EchoSource, phase_table
from amaradar.hdl.formats import complex_layout, framed_layout, unpack
from amaradar.sim.models.waveform.echo_source import (echo_lines, echo_lines_ideal, target_entries,
                                                      targets_value)

from amaradar.sim.engines.streams import cocotb_stream, simulate_stream


def _pulse(length, width, seed=0):
    rng = np.random.default_rng(seed)
    half = 1 << (width - 1)
    return rng.integers(-half, half, length) + 1j * rng.integers(-half, half, length)


PULSE = _pulse(13, 12)
BASE = dict(pulse=PULSE, pulse_width=12, line_length=64, pulses_per_cpi=3)
TARGETS = [dict(delay=5, amplitude=50000, phase=1000, doppler=7000),
           dict(delay=58, amplitude=30000, doppler=-3000)]       # cut at the line end


# ---------------------------------------------------------------- model

def test_phase_table():
    table = np.array(phase_table())
    size = 1 << PHASE_TABLE_BITS
    angle = 2 * np.pi * np.arange(size) / size
    assert np.abs(table[:, 0] - 32767 * np.cos(angle)).max() <= 0.5
    assert np.abs(table[:, 1] - 32767 * np.sin(angle)).max() <= 0.5
    assert np.abs(table).max() == 32767


def test_echo_placed_at_delay_with_exact_table_phases():
    # phase and doppler multiples of 2**8 index the table exactly: only the roundings
    # remain, < 1 LSB (table 0.09 + gain 0.13 + scale 0.09 + product 0.5, for |p| < 2**11.5)
    targets = [dict(delay=9, amplitude=61234, phase=256 * 40, doppler=256 * 37)]
    got = echo_lines(**BASE, width=16, targets=targets, lines=8)   # wide: no saturation
    ideal = echo_lines_ideal(pulse=PULSE, line_length=64, targets=targets, lines=8)
    assert np.abs(got.real - ideal.real).max() < 1
    assert np.abs(got.imag - ideal.imag).max() < 1
    assert not np.any(got[:, :9]) and not np.any(got[:, 9 + PULSE.size:])
    # line to line the echo turns by the Doppler increment, 37/256 turns
    ratio = got[1:, 9:22] / got[:-1, 9:22]
    big = np.abs(got[:-1, 9:22]) > 500
    turn = np.angle(ratio[big]) / (2 * np.pi)
    assert np.abs((turn - 37 / 256 + 0.5) % 1 - 0.5).max() < 2e-3


def test_echo_with_arbitrary_phase_within_truncation_bound():
    got = echo_lines(**BASE, width=16, targets=TARGETS, lines=20)
    ideal = echo_lines_ideal(pulse=PULSE, line_length=64, targets=TARGETS, lines=20)
    peak = np.sqrt(2) * 2048 * sum(t["amplitude"] for t in TARGETS) / 65536
    bound = 2 + peak * 2 * np.pi / (1 << PHASE_TABLE_BITS)   # phase truncation + roundings
    assert np.abs(got - ideal).max() < bound
    assert np.abs(got - ideal).max() > 1      # the truncation is visible: the bound is tight
    # the second target's echo is cut at the line end: 6 of its 13 samples remain
    alone = echo_lines(**BASE, targets=TARGETS[1:], lines=2)
    assert np.all(alone[:, 58:] != 0) and not np.any(alone[:, :58])


def test_disabled_target_and_noise_only_lines():
    off = [dict(TARGETS[0], enable=False)]
    assert not np.any(echo_lines(**BASE, targets=off, lines=3))
    noisy = echo_lines(**BASE, targets=off, noise_scale=256 * 10, seed=4, lines=200)
    assert abs(noisy.real.var() / (100 + 1 / 12) - 1) < 5 * np.sqrt(1.9 / noisy.size)


def test_saturation_and_flags():
    loud = dict(BASE, width=8)
    iq, over, cpi_end = echo_lines(**loud, targets=TARGETS, lines=6, full_output=True)
    raw = echo_lines(**BASE, width=32, targets=TARGETS, lines=6)
    assert iq.real.max() == 127 and iq.imag.min() == -128
    expected = ((raw.real > 127) | (raw.real < -128) | (raw.imag > 127) | (raw.imag < -128))
    np.testing.assert_array_equal(over, expected)
    assert over.any() and not over.all()
    np.testing.assert_array_equal(iq.real, np.clip(raw.real, -128, 127))
    np.testing.assert_array_equal(cpi_end, [False, False, True, False, False, True])


# ---------------------------------------------------------------- gateware

def _unpack(words, width=12):
    fields = unpack(framed_layout(complex_layout(width)), words)
    return fields["data.i"] + 1j * fields["data.q"], fields


def _framing(fields, lines, line_length, pulses_per_cpi):
    k = np.tile(np.arange(line_length), lines)
    n = np.repeat(np.arange(lines), line_length)
    np.testing.assert_array_equal(fields["first"], k == 0)
    np.testing.assert_array_equal(fields["last"], k == line_length - 1)
    np.testing.assert_array_equal(fields["cpi_end"], (k == line_length - 1)
                                  & (n % pulses_per_cpi == pulses_per_cpi - 1))


def _check_run(words, params, targets, scale, seed, lines):
    """The gateware's words equal the model, sample for sample, with the right framing."""
    got, fields = _unpack(words)
    ref = echo_lines(**params, targets=targets, noise_scale=scale, seed=seed, lines=lines)
    np.testing.assert_array_equal(got, ref.ravel())
    _framing(fields, lines, params["line_length"], params["pulses_per_cpi"])


@pytest.mark.parametrize("p_stall, gain_stage", [(0.0, False), (0.6, False), (0.6, True)])
def test_gateware_matches_model_over_cpis(p_stall, gain_stage):
    lines, scale, seed = 7, 700, 3
    dut = EchoSource(**BASE, max_targets=2, seed=seed, gain_stage=gain_stage)
    words = simulate_stream(dut, None, lines * 64, p_out_stall=p_stall, seed=5, ports={
        "targets": target_entries(TARGETS, line_length=64, max_targets=2),
        "noise_scale": scale})
    _check_run(words, BASE, TARGETS, scale, seed, lines)


class _Switching(wiring.Component):
    """``echo`` stepping to the next of ``tables`` (restarting its Doppler phases) at
    each CPI in ``starts``, as a board steps through its presets."""

    def __init__(self, echo, tables, starts, noise_scale):
        self._echo, self._tables, self._starts = echo, tables, starts
        self._noise_scale = noise_scale
        super().__init__({"o": Out(echo.o.signature)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.echo = echo = self._echo
        layout = echo.targets.shape()
        cpi = Signal(range(max(self._starts) + 1))
        index = Signal(range(len(self._tables)))
        switch = Signal()
        m.d.comb += [
            switch.eq(sum(cpi == start - 1 for start in self._starts) != 0),
            echo.restart.eq(switch),
            echo.targets.eq(Array(Const(layout.const(table).as_bits(), layout.size)
                                  for table in self._tables)[index]),
            echo.noise_scale.eq(self._noise_scale),
        ]
        with m.If(echo.cpi_boundary):
            m.d.sync += cpi.eq(cpi + 1)
            with m.If(switch):
                m.d.sync += index.eq(index + 1)
        wiring.connect(m, echo.o, wiring.flipped(self.o))
        return m


@pytest.mark.parametrize("p_stall", [0.0, 0.6])
def test_gateware_switches_tables_at_cpi_boundaries(p_stall):
    """Each CPI plays one table, the Doppler phases restarting at each switch (also
    to the same table); slot 1's echo covers the line's end, so its amplitude,
    read ``AMPLITUDE_LAG`` samples late, stays."""
    other = [dict(delay=20, amplitude=20000, phase=5000, doppler=-9000),
             dict(delay=58, amplitude=30000, phase=300, doppler=12000)]
    silent = [dict(TARGETS[0], enable=False), dict(TARGETS[1], enable=False)]
    tables = [TARGETS, other, silent, TARGETS]
    starts = (1, 2, 4)
    lines, scale, seed = 15, 300, 4
    entries = [target_entries(t, line_length=64, max_targets=2) for t in tables]
    dut = _Switching(EchoSource(**BASE, max_targets=2, seed=seed), entries, starts, scale)
    words = simulate_stream(dut, None, lines * 64, p_out_stall=p_stall, seed=9)
    got, _ = _unpack(words)
    M = BASE["pulses_per_cpi"]
    ref = echo_lines(**BASE, targets=TARGETS, noise_scale=scale, seed=seed, lines=lines,
                     switches=[(start * M, t) for start, t in zip(starts, tables[1:])])
    np.testing.assert_array_equal(got, ref.ravel())
    unswitched = echo_lines(**BASE, targets=TARGETS, noise_scale=scale, seed=seed, lines=lines)
    assert np.array_equal(ref[:M], unswitched[:M])
    assert not np.array_equal(ref[4 * M:], unswitched[4 * M:])    # the restart shows


def test_gateware_odd_sizes():
    # one-sample pulse (depth-1 ROM), a line length that is not a power of 2, M = 1,
    # a disabled slot, more pulse than line
    cases = [(dict(pulse=np.array([-100 + 77j]), pulse_width=8, line_length=50,
                   pulses_per_cpi=1), [dict(delay=49, amplitude=65535, phase=123, doppler=999)]),
             (dict(pulse=_pulse(9, 10, 1), pulse_width=10, line_length=7, pulses_per_cpi=2),
              [dict(delay=2, amplitude=40000, doppler=20000)])]
    for params, targets in cases:
        lines = 5
        dut = EchoSource(**params, max_targets=2, seed=8)
        words = simulate_stream(dut, None, lines * params["line_length"], seed=6, ports={
            "targets": target_entries(targets, line_length=params["line_length"], max_targets=2),
            "noise_scale": 100})
        _check_run(words, params, targets, 100, 8, lines)


def test_gateware_overflow_flag_is_sticky():
    params = dict(BASE, width=8)
    dut = EchoSource(**params, max_targets=2)
    _, over, _ = echo_lines(**params, targets=TARGETS, lines=2, full_output=True)
    first = int(np.flatnonzero(over.ravel())[0])
    flags = []

    async def bench(ctx):
        ctx.set(dut.targets, target_entries(TARGETS, line_length=64, max_targets=2))
        ctx.set(dut.o.ready, 1)
        while len(flags) < 128:
            _, _, valid, overflow = await ctx.tick().sample(dut.o.valid, dut.overflow)
            if valid:
                flags.append(overflow)     # while this sample is presented

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    # the flag rises with the first saturated sample and stays
    assert 0 < first < 100
    assert flags == [0] * first + [1] * (128 - first)


def test_gateware_cocotb():
    lines, scale, seed = 8, 900, 77
    dut = EchoSource(**BASE, max_targets=2, seed=seed)
    words = cocotb_stream(dut, "echo_source", None, lines * 64, p_out_stall=0.4, seed=7, ports={
        "targets": targets_value(TARGETS, line_length=64, max_targets=2),
        "noise_scale": scale})
    _check_run(words, BASE, TARGETS, scale, seed, lines)


# ---------------------------------------------------------------- parameters

@pytest.mark.filterwarnings("ignore:.*created but never used")
@pytest.mark.parametrize("change, error, message", [
    (dict(pulse_width=1), ValueError, "pulse_width must be between 2 and 32, not 1"),
    (dict(pulse_width=11), ValueError,
     r"pulse parts must lie in \[-1024, 1023\] for pulse_width 11, not up to magnitude \d+"),
    (dict(line_length=0), ValueError, "line_length must be >= 1, not 0"),
    (dict(line_length=64.0), TypeError, "line_length must be an integer, not 64.0"),
    (dict(pulses_per_cpi=0), ValueError, "pulses_per_cpi must be >= 1, not 0"),
    (dict(width=33), ValueError, "width must be between 2 and 32, not 33"),
    (dict(seed=-3), ValueError, "seed must be between 0 and 4294967295, not -3"),
    (dict(pulse=[]), ValueError,
     r"pulse must be a non-empty 1-D array of complex integers, not float64 of shape \(0,\)"),
    (dict(pulse=[1.5, 2]), ValueError, "pulse must have integer real and imaginary parts"),
])
def test_parameter_errors(change, error, message):
    with pytest.raises(error, match=f"^{message}$"):
        EchoSource(**dict(BASE, **change))
    with pytest.raises(error, match=f"^{message}$"):
        echo_lines(**dict(BASE, **change), lines=1)


@pytest.mark.filterwarnings("ignore:.*created but never used")
def test_gain_stage_must_be_a_bool():
    with pytest.raises(TypeError, match="^gain_stage must be True or False, not 1$"):
        EchoSource(**BASE, gain_stage=1)


@pytest.mark.filterwarnings("ignore:.*created but never used")
def test_max_targets_and_target_errors():
    with pytest.raises(ValueError, match="^max_targets must be >= 1, not 0$"):
        EchoSource(**BASE, max_targets=0)
    with pytest.raises(ValueError, match="^targets has 3 entries, more than max_targets 2$"):
        targets_value((TARGETS * 2)[:3], line_length=64, max_targets=2)
    with pytest.raises(ValueError, match=r"^targets\[0\]\['delay'\] must be an integer "
                                         r"between 0 and 63, not 64$"):
        echo_lines(**BASE, targets=[dict(delay=64, amplitude=1)], lines=1)
    with pytest.raises(ValueError, match=r"^targets\[0\] needs a 'amplitude'$"):
        echo_lines(**BASE, targets=[dict(delay=3)], lines=1)
    with pytest.raises(ValueError, match=r"^targets\[0\] has unknown field\(s\) \['range'\]; "):
        echo_lines(**BASE, targets=[dict(delay=3, amplitude=1, range=5)], lines=1)
    with pytest.raises(ValueError, match=r"^switches must be at increasing CPI starts \(multiples "
                                         r"of pulses_per_cpi 3\) after line 0, not at \[6, 3\]$"):
        echo_lines(**BASE, switches=[(6, TARGETS), (3, TARGETS)], lines=9)
    with pytest.raises(ValueError, match=r"^switches must .* not at \[4\]$"):
        echo_lines(**BASE, switches=[(4, TARGETS)], lines=9)
    with pytest.raises(ValueError, match="^noise_scale must be between 0 and 65535, not -1$"):
        echo_lines(**BASE, noise_scale=-1, lines=1)
