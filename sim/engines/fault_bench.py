"""Faults in the middle of a stream, in the Amaranth simulator: a reset, a flipped RAM bit.

:func:`run_with_fault` drives a streaming Component as
:func:`~amaradar.sim.engines.streams.simulate_stream` does (random stalls on both
sides, the stream rules checked on ``o``) and, at the first clock where
``trigger(fed, emitted)`` is true, injects one fault:

- :class:`Reset`: the ``sync`` domain's reset is held high for ``cycles`` clocks.
  The source drops ``i.valid`` meanwhile and, once the reset falls, feeds
  ``inputs`` again from the first word, as an upstream that was reset with it
  would; the words ``o`` gave before and during the reset are set apart.
- :class:`Upset`: bits of one word of a block RAM are inverted, as a
  single-event upset (one bit) or a multiple-bit upset would; the stream goes on
  untouched.

The bench keeps running ``settle_cycles`` clocks after the last input word and
the last output word (stalls included) and returns every word ``o`` gave, so a
word too many, lost or changed shows in the caller's comparison with the model.
The RAMs are found by their hierarchical names (:func:`memories`).
"""

import random
from dataclasses import dataclass, field

from amaranth import ClockDomain, Elaboratable, Fragment, Module, Value
from amaranth.hdl import MemoryInstance
from amaranth.sim import Simulator

from .streams import StreamProtocolError, _port

__all__ = ["Reset", "Upset", "FaultRun", "memories", "run_with_fault"]


@dataclass(frozen=True)
class Reset:
    """Hold the ``sync`` reset high for ``cycles`` clocks (at least 1)."""
    cycles: int = 1


@dataclass(frozen=True)
class Upset:
    """Invert the bits ``bits`` (a tuple of bit numbers) of word ``address`` of the
    RAM named ``memory`` (a key of :func:`memories`)."""
    memory: str
    address: int
    bits: tuple


@dataclass
class FaultRun:
    """What ``o`` gave: ``before`` the fault (for a reset: up to the clock its reset
    fell) and ``after`` it; ``fed`` input words had been taken at the fault, in
    ``cycle`` clocks; ``output_cycles`` is the clock of each word of ``after``;
    ``watched`` the value of each watched output port when the run ended."""
    before: list = field(default_factory=list)
    after: list = field(default_factory=list)
    fed: int = 0
    cycle: int = 0
    output_cycles: list = field(default_factory=list)
    watched: dict = field(default_factory=dict)


class _Domain(Elaboratable):
    """``fragment`` in a ``sync`` domain whose reset the bench drives."""

    def __init__(self, fragment):
        self.fragment = fragment
        self.domain = ClockDomain("sync")

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self.domain
        m.submodules.dut = self.fragment
        return m


def memories(fragment, prefix=""):
    """``{"path.to.ram": MemoryData}`` of every RAM (a memory with a write port) in an
    elaborated ``fragment``; ROMs are left out."""
    found = {}
    for sub, name, _ in fragment.subfragments:
        path = f"{prefix}{name}"
        if isinstance(sub, MemoryInstance) and sub._write_ports:
            found[path] = sub._data
        found.update(memories(sub, path + "."))
    return found


def run_with_fault(dut, inputs, *, fault, trigger, p_in_stall=0.3, p_out_stall=0.3, seed=0,
                   ports=None, watch=(), settle_cycles=2000, max_cycles=None, fragment=None):
    """Run ``dut`` with one ``fault`` injected when ``trigger(fed, emitted)`` first holds.

    Parameters
    ----------
    dut : wiring.Component with ``o`` (and, unless ``inputs`` is None, ``i``) streams.
    inputs : list of int or None
        Input payload words.
    fault : Reset or Upset
    trigger : callable
        ``trigger(fed, emitted)`` of the input words taken and output words given so far.
    p_in_stall, p_out_stall : float
        Probability that the source idles / the sink is not ready, per clock.
    ports : dict, optional
        ``{"name": value}`` of plain input ports, held for the whole run.
    watch : tuple of str
        Plain output ports (e.g. sticky flags) to read when the run ends.
    settle_cycles : int
        Clocks the bench keeps running with nothing going in or out before it ends.
    max_cycles : int, optional
        Give up after this many clocks (default: generous, from the word count).
    fragment : Fragment, optional
        ``Fragment.get(dut, None)``, when the caller has looked up its RAMs.

    Returns
    -------
    FaultRun
        Raises :class:`~amaradar.sim.engines.streams.StreamProtocolError` when ``o``
        drops or changes a waiting word, ``AssertionError`` when the trigger never
        holds or the bench runs out of clocks.
    """
    rng = random.Random(seed)
    inputs = inputs or []
    fragment = fragment if fragment is not None else Fragment.get(dut, None)
    top = _Domain(fragment)
    max_cycles = max_cycles or 4 * settle_cycles + 40 * len(inputs)
    run = FaultRun()
    has_input = hasattr(dut, "i")

    def inject(ctx):
        if isinstance(fault, Upset):
            row = Value.cast(memories(fragment)[fault.memory][fault.address])
            ctx.set(row, ctx.get(row) ^ sum(1 << bit for bit in set(fault.bits)))

    async def bench(ctx):
        for name, value in (ports or {}).items():
            ctx.set(_port(dut, name), value)
        fed, offering, pending = 0, False, None
        reset_left, fired, quiet = 0, False, 0
        out = run.before
        for cycle in range(max_cycles):
            if not fired and trigger(fed, len(run.before)):
                fired, run.fed, run.cycle = True, fed, cycle
                inject(ctx)
                if isinstance(fault, Reset):
                    reset_left = fault.cycles
                else:
                    out = run.after
            in_reset = reset_left > 0
            ctx.set(top.domain.rst, in_reset)
            if has_input:
                if in_reset:
                    offering = False
                elif not offering and fed < len(inputs) and rng.random() >= p_in_stall:
                    ctx.set(Value.cast(dut.i.payload), inputs[fed])
                    offering = True
                ctx.set(dut.i.valid, offering)
            ready = rng.random() >= p_out_stall
            ctx.set(dut.o.ready, ready)
            if has_input:
                _, _, taken, valid, payload = await ctx.tick().sample(
                    dut.i.ready, dut.o.valid, Value.cast(dut.o.payload))
            else:
                _, _, valid, payload = await ctx.tick().sample(dut.o.valid,
                                                               Value.cast(dut.o.payload))
                taken = False
            moved = False
            if in_reset:
                reset_left -= 1
                pending = None
                if valid and ready:
                    out.append(payload)
                if reset_left == 0:
                    fed, out = 0, run.after
                continue
            if pending is not None and (not valid or payload != pending):
                raise StreamProtocolError(
                    f"o dropped or changed a waiting word after {len(out)} words")
            if offering and taken:
                fed, offering, moved = fed + 1, False, True
            if valid and ready:
                out.append(payload)
                if out is run.after:
                    run.output_cycles.append(cycle)
                pending, moved = None, True
            elif valid:
                pending = payload
            quiet = 0 if moved or offering else quiet + 1
            if fired and fed == len(inputs) and quiet >= settle_cycles:
                run.watched = {name: ctx.get(_port(dut, name)) for name in watch}
                return
        raise AssertionError(
            f"no end after {max_cycles} clocks: fault {'' if fired else 'not '}injected, "
            f"{fed} of {len(inputs)} input words fed, {len(run.after)} words out after it")

    sim = Simulator(top)
    sim.add_clock(1e-6, domain="sync")
    sim.add_testbench(bench)
    sim.run()
    return run
