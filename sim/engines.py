"""The ``rtl`` engine for the whole chain: RadarChain's Verilog in Verilator.

The reference engine is :func:`amaradar.sim.chain.reference_chain`; this one
feeds the same ADC samples, framed into range lines and CPIs, through the
generated Verilog at Verilator speed and returns its detections and status flags
in the same form, so the two compare with ``==``.
"""

import time

import numpy as np

from ..hdl.formats import complex_layout, framed_layout
from .chain import ChainResult
from .payloads import pack_bytes, unpack_bytes
from .rtl_engine import RtlEngine

__all__ = ["frame_iq", "run_rtl_chain"]

# Longest stretch with no input accepted and no output offered before the run ends:
# well above the chain's pipeline depth.
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


def run_rtl_chain(config, iq, *, progress=None):
    """Run ``iq`` through ``RadarChain(config)`` in Verilator.

    Returns
    -------
    result : ChainResult
    info : dict
        Build and run figures: ``rebuilt``, ``cycles``, ``samples_per_s`` (run only),
        ``timings`` (``rtl_build_s``, ``rtl_run_s``, ``rtl_total_s``).
    """
    from ..hdl.radar_chain import RadarChain
    t0 = time.perf_counter()
    component = RadarChain(config)
    engine = RtlEngine(component, name="radar_chain")
    t1 = time.perf_counter()
    if progress is not None:
        progress.say("rtl: " + ("compiled the chain with Verilator" if engine.rebuilt
                                else "chain build taken from the cache"))
    words = frame_iq(config, iq)
    total = len(words)
    run = engine.run(words, ports={"scale": config.cfar_scale}, drain_cycles=DRAIN_CYCLES,
                     progress=None if progress is None else lambda n: progress.samples(n, total))
    t2 = time.perf_counter()
    if progress is not None:
        progress.samples(total, total)
    found = unpack_bytes(component.o.payload.shape(), run.outputs)
    detections = {name: found[name] for name in ("cpi", "pulse", "range_bin", "power", "threshold")}
    status = {name: bool(run.status[name]) for name in engine.status}
    t3 = time.perf_counter()
    info = {
        "rebuilt": engine.rebuilt,
        "cycles": run.cycles,
        "cycles_per_sample": run.cycles / total,
        "samples_per_s": total / (t2 - t1),
        "timings": {"rtl_build_s": t1 - t0, "rtl_run_s": t2 - t1, "rtl_total_s": t3 - t0},
    }
    return ChainResult(detections, status), info
