"""The tracker tests' plots and expected words: a UHF radar, two crossing targets among
false plots, the model's reports packed as the gateware's output words."""

import numpy as np

from amaradar.hdl.formats import pack
from amaradar.hdl.track.tables import TrackerRadar
from amaradar.sim.engines.rtl_tracker import tracker_input_columns as input_columns
from amaradar.sim.models.track.tracker import TRACK_FIELDS
from amaradar.sim.world.track_metrics import synthetic_plots
from amaradar.spec.physics import SPEED_OF_LIGHT

# A UHF surveillance radar: 15 m cells, 16 pulses of 1 ms, v_u = 172 m/s, LFM up.
UHF = TrackerRadar(range_cell_m=15.0, cpi_s=16e-3, pulses=16,
                   unambiguous_velocity_mps=SPEED_OF_LIGHT / 435e6 / 1e-3 / 4,
                   sweep="up", pulse_width_s=10e-6, bandwidth_hz=5e6)
POWER_BITS = 20


def runtime(model):
    """The run-time ports of ``dut`` set as ``model`` runs."""
    return {"confirm_m": model.confirm_m, "confirm_n": model.confirm_n,
            "delete_k": model.delete_k, "unfold": int(model.unfold),
            "correct_coupling": int(model.correct_coupling)}


def expected_columns(model, frames, first_cpi=0):
    """The model's reports and a ``cpi_end`` word per CPI (payload columns), and the
    reports of each CPI."""
    parts, reports = [], []
    for k, frame in enumerate(frames):
        rep = model.step(frame, cpi=first_cpi + k)
        reports.append(rep)
        marker = np.zeros(1, dtype=rep.dtype)
        marker["cpi"] = rep["cpi"][0] if len(rep) else (first_cpi + k) % (1 << 16)
        parts.append((np.concatenate([rep, marker]), np.arange(len(rep) + 1) == len(rep)))
    words = np.concatenate([w for w, _ in parts])
    columns = {f"track.{name}": words[name] for name in TRACK_FIELDS}
    columns["cpi_end"] = np.concatenate([e for _, e in parts]).astype(np.int64)
    return columns, reports


def input_words(dut, frames, first_cpi=0):
    return pack(dut.i.payload.shape(), **input_columns(frames, first_cpi))


def expected_words(dut, model, frames, first_cpi=0):
    columns, reports = expected_columns(model, frames, first_cpi)
    return pack(dut.o.payload.shape(), **columns), reports


def crossing_frames(cpis, seed, false_plots=3.0):
    """Two targets crossing in range at CPI 50 (different Doppler) among false plots,
    Pd 0.9; target 1 appears at CPI 8."""
    steps = np.arange(cpis)
    ranges = np.array([[1000.0], [950.0]]) + np.array([[-0.6], [0.4]]) * steps
    rates = np.array([[-0.6], [0.4]]) * np.ones(cpis)
    frames, sources = synthetic_plots(UHF, ranges, rates, rng=np.random.default_rng(seed),
                                      detection_probability=0.9, false_plots_per_cpi=false_plots,
                                      false_range_cells=(900.0, 1100.0))
    return [f[s != 1] if k < 8 else f for k, (f, s) in enumerate(zip(frames, sources))]
