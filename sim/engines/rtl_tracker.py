"""The ``rtl`` engine for the tracker: ``Tracker``'s Verilog in Verilator.

The reference engine is :func:`amaradar.sim.tracking.reference_tracks`; this one
feeds the same plots, a ``cpi_end`` word after each CPI's, through the generated
Verilog and returns the track reports and the tracker's status in the same form,
so the two compare with ``==``. The tracker runs after the chain, on the plots
the chain's engine produced; the chain and the tracker are separate Verilator
models (the run's plots are the join).
"""

import time

import numpy as np

from ...hdl.track.tracker import Tracker
from ...spec.records import CPI_WIDTH
from ..models.track.tracker import TRACK_FIELDS
from ..tracking import TrackResult
from ..world.track_metrics import PLOT_DTYPE
from .payloads import pack_bytes, unpack_bytes
from .rtl_engine import RtlEngine

__all__ = ["tracker_input_columns", "runtime_ports", "run_rtl_tracker"]


def tracker_input_columns(frames, first_cpi=0):
    """Each CPI's plots, then its ``cpi_end`` word: the tracker's input payload
    columns by leaf name (``plot.<field>``, ``cpi_end``)."""
    parts = []
    for k, frame in enumerate(frames):
        words = np.zeros(len(frame) + 1, dtype=PLOT_DTYPE)
        words[:-1] = frame
        words["cpi"] = (first_cpi + k) % (1 << CPI_WIDTH)
        parts.append((words, np.arange(len(words)) == len(frame)))
    words = np.concatenate([w for w, _ in parts])
    columns = {f"plot.{name}": words[name] for name in PLOT_DTYPE.names}
    columns["cpi_end"] = np.concatenate([e for _, e in parts]).astype(np.int64)
    return columns


def runtime_ports(runtime):
    """The tracker's run-time ports (integers) from its settings by name."""
    return {name: int(value) for name, value in runtime.items()}


def run_rtl_tracker(config, runtime, frames, *, power_bits):
    """Run ``frames`` (one plot array per CPI) through ``Tracker(config)`` in Verilator.

    Returns
    -------
    result : TrackResult
    info : dict
        ``rebuilt``, ``cycles`` and ``worst_case_cycles_per_cpi`` (the tracker's bound,
        :meth:`Tracker.worst_case_cycles`), ``timings`` (``tracker_build_s``,
        ``tracker_run_s``).
    """
    t0 = time.perf_counter()
    dut = Tracker(config, power_bits=power_bits)
    engine = RtlEngine(dut, name="tracker")
    t1 = time.perf_counter()
    inputs = pack_bytes(dut.i.payload.shape(), tracker_input_columns(frames))
    worst = dut.worst_case_cycles()
    run = engine.run(inputs, ports=runtime_ports(runtime), drain_cycles=worst + 1)
    words = unpack_bytes(dut.o.payload.shape(), run.outputs)
    keep = words["cpi_end"] == 0
    tracks = {name: words[f"track.{name}"][keep] for name in TRACK_FIELDS}
    info = {"rebuilt": engine.rebuilt, "cycles": run.cycles, "cpi_end_words":
            int(np.count_nonzero(~keep)), "worst_case_cycles_per_cpi": worst,
            "timings": {"tracker_build_s": t1 - t0, "tracker_run_s": time.perf_counter() - t1}}
    return TrackResult(tracks, {name: int(v) for name, v in run.status.items()}), info
