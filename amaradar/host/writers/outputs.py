"""The files `amaradar sim` writes: stable schemas that other tools can read.

detections.csv
    ``cpi,pulse,time_s,range_m,range_bin,power_db,threshold_db`` — one row per CFAR
    detection. ``pulse`` is the range line within the CPI; ``time_s`` its transmit
    time; ``range_m = c / 2 * (range_bin - (N - 1)) / fs``, the range at that pulse
    with the matched filter's delay removed; ``power_db`` and ``threshold_db`` are
    ``10 log10`` of the detector's integer power and threshold (dB re one power LSB).
truth.csv
    ``cpi,time_s,target_id,range_m,radial_velocity_mps`` — every target at the
    first pulse of every CPI.
report.json
    Scenario as parsed, engine, ``bit_exact``, counts, scores, timings, status flags.
range_profile.png, detections.png
    The compressed range profile of one line with the CFAR threshold and truth;
    detections against truth over time.
adc.sigmf-meta, adc.sigmf-data
    With ``--record``: the ADC samples the chain consumed, a SigMF recording
    (:mod:`amaradar.host.sigmf_io`).

A range-Doppler run (``[doppler]``) writes its plots instead, in the schema of
:mod:`amaradar.host.writers.plot_outputs`, and its tracks
(:mod:`amaradar.host.writers.track_outputs`). Each file is written by one function
of :data:`RUN_WRITERS` (range-only) or :data:`PLOT_WRITERS` (range-Doppler) from
a :class:`Run`; a new output format is one more entry there.
"""

import csv
import json
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ...sim.models.detect.ca_cfar import ca_cfar_thresholds
from ...sim.world.metrics import truth_bins
from ..asterix import asterix_records
from .plot_outputs import plot_range_doppler, plot_tracks_of_plots, pyplot, write_plots
from .track_outputs import plot_tracks, write_tracks
from .rows import DETECTION_CSV_COLUMNS, detection_range_m, detection_row

__all__ = ["Run", "RUN_WRITERS", "PLOT_WRITERS", "run_writers", "write_detections", "write_truth", "write_report",
           "plot_range_profile", "plot_detections", "profile_line", "profile_cpi"]

TRUTH_COLUMNS = ("cpi", "time_s", "target_id", "range_m", "radial_velocity_mps")
CSV_CHUNK_ROWS = 1 << 14    # rows a CSV writer converts at a time


def detection_ranges(scenario, range_bin):
    r = scenario.radar
    return detection_range_m(np.asarray(range_bin), r.pulse_samples, r.sample_rate_hz)


def _db(values):
    values = np.asarray(values, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(values)


def write_detections(path, scenario, detections):
    """``detections.csv`` (schema above), :data:`CSV_CHUNK_ROWS` rows at a time."""
    r = scenario.radar
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(DETECTION_CSV_COLUMNS)
        for start in range(0, len(detections["cpi"]), CSV_CHUNK_ROWS):
            part = {name: value[start:start + CSV_CHUNK_ROWS] for name, value in detections.items()}
            line = part["cpi"] * r.pulses_per_cpi + part["pulse"]
            columns = (part["cpi"], part["pulse"], (line * r.pri_s).tolist(),
                       detection_ranges(scenario, part["range_bin"]).tolist(),
                       part["range_bin"], part["power"].tolist(), part["threshold"].tolist())
            out.writerows(detection_row(*row) for row in zip(*columns))


def truth_rows(scenario):
    r = scenario.radar
    for cpi in range(r.cpis):
        t = cpi * r.pulses_per_cpi * r.pri_s
        for tid, target in enumerate(scenario.targets):
            yield cpi, t, tid, target.range_at(t), target.velocity_at(t)


def write_truth(path, scenario):
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(TRUTH_COLUMNS)
        for cpi, t, tid, rng, vel in truth_rows(scenario):
            out.writerow([cpi, f"{t:.9g}", tid, f"{rng:.3f}", f"{vel:.3f}"])


def write_report(path, report):
    def default(o):
        if isinstance(o, np.generic):
            return o.item()
        raise TypeError(f"cannot write {type(o).__name__} to JSON")

    def clean(o):
        if isinstance(o, float) and not math.isfinite(o):
            return None
        if isinstance(o, dict):
            return {k: clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        return o
    with open(path, "w") as f:
        json.dump(clean(report), f, indent=2, default=default)
        f.write("\n")


def plot_range_profile(path, scenario, line_index, power, threshold, detections, truth_bins):
    """Power and CFAR threshold (dB) along one range line, truth and detections marked."""
    plt = pyplot()
    ranges = detection_ranges(scenario, np.arange(len(power))) / 1e3
    fig, ax = plt.subplots(figsize=(11, 4.5))
    ax.plot(ranges, _db(np.maximum(power, 1)), lw=0.5, color="tab:blue", label="power |y|²")
    tested = threshold > 0
    ax.plot(ranges[tested], _db(threshold[tested]), lw=0.8, color="tab:orange",
            label="CA-CFAR threshold")
    r = scenario.radar
    line = detections["cpi"] * r.pulses_per_cpi + detections["pulse"]
    sel = line == line_index
    ax.plot(detection_ranges(scenario, detections["range_bin"][sel]) / 1e3,
            _db(detections["power"][sel]), "v", color="tab:red", ms=6, label="detections")
    for k in truth_bins:
        ax.axvline(detection_ranges(scenario, k) / 1e3, color="k", ls=":", lw=1)
    ax.plot([], [], "k:", label="truth")
    ax.set_xlabel("range (km)")
    ax.set_ylabel("dB re 1 power LSB")
    cpi, pulse = divmod(line_index, r.pulses_per_cpi)
    ax.set_title(f"Compressed range profile, CPI {cpi} pulse {pulse}")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_detections(path, scenario, detections, truth_bins):
    """Detections against truth: range over time, and the range error of the
    detections within one range cell of each target."""
    plt = pyplot()
    r = scenario.radar
    times = np.arange(r.lines) * r.pri_s
    line = detections["cpi"] * r.pulses_per_cpi + detections["pulse"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 7), height_ratios=(3, 2), sharex=True)
    top.plot(line * r.pri_s, detection_ranges(scenario, detections["range_bin"]) / 1e3, ".",
             ms=3, color="tab:red", label="detections")
    for tid, target in enumerate(scenario.targets):
        top.plot(times, target.range_at(times) / 1e3, "-", lw=1, color="k", alpha=0.6,
                 label="truth" if tid == 0 else None)
        error = detections["range_bin"] - truth_bins[tid, line]
        on = np.abs(error) <= 1
        bottom.plot(line[on] * r.pri_s, error[on] * r.range_bin_m, ".", ms=3,
                    label=f"target {tid}")
    top.set_ylabel("range (km)")
    top.set_ylim(0, r.unambiguous_range_m / 1e3)
    top.set_title("Detections against truth")
    top.legend(loc="upper right", fontsize=8)
    bottom.axhline(0, color="k", lw=0.8)
    bottom.set_xlabel("time (s)")
    bottom.set_ylabel("detection − truth (m)")
    bottom.legend(loc="upper right", fontsize=8, ncol=3)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


@dataclass(frozen=True)
class Run:
    """What a writer of ``amaradar sim`` gets: the scenario, the chain configuration
    (``ChainConfig``), the detections of the engine (dict of int64 arrays), the
    reference model's detector power of the one range line (:func:`profile_line`) or
    range-Doppler map (:func:`profile_cpi`) that the figures draw, and the report dict.
    A run streamed in blocks keeps only that much of its power."""
    scenario: object
    config: object
    detections: dict
    profile: np.ndarray
    report: dict
    site: object = None           # amaradar.host.site.Site, for the formats below
    recording: object = None      # sigmf_io.RecordingWriter the run's blocks were appended to
    simulated: bool = True        # the samples came from the scenario's echo model
    tracks: dict = None           # a range-Doppler run's track reports (dict of int64 arrays)

    @cached_property
    def asterix(self):
        """The run's reports as ASTERIX datagrams, one per CPI (:mod:`..asterix`)."""
        return asterix_records(self.scenario, self.site, self.detections,
                               "plots" if self.config.doppler else "detections",
                               tracks=self.tracks, simulated=self.simulated)

    @cached_property
    def truth_bins(self):
        """Each target's range bin at every line (``metrics.truth_bins``)."""
        return truth_bins(self.scenario)


def profile_line(scenario):
    """The line to plot: the first pulse of the last CPI."""
    r = scenario.radar
    return (r.cpis - 1) * r.pulses_per_cpi


def _write_range_profile(folder, run):
    line = profile_line(run.scenario)
    config = run.config
    threshold = ca_cfar_thresholds(run.profile, reference_cells=config.reference_cells,
                                   guard_cells=config.guard_cells, scale=config.cfar_scale)
    plot_range_profile(folder / "range_profile.png", run.scenario, line, run.profile,
                       threshold, run.detections, run.truth_bins[:, line])


def _write_truth(folder, run):
    write_truth(folder / "truth.csv", run.scenario)


def _write_report(folder, run):
    write_report(folder / "report.json", run.report)


def _write_recording(folder, run):
    """The metadata of the recording in ``folder`` whose samples the run appended."""
    if run.recording is not None:
        run.recording.finish()


#: ``write(folder, run)`` for every file of a run, in order.
RUN_WRITERS = (
    lambda folder, run: write_detections(folder / "detections.csv", run.scenario, run.detections),
    _write_truth,
    _write_report,
    _write_range_profile,
    lambda folder, run: plot_detections(folder / "detections.png", run.scenario, run.detections,
                                        run.truth_bins),
    _write_recording,
)


def profile_cpi(scenario):
    """The CPI whose range-Doppler map is drawn: the last."""
    return scenario.radar.cpis - 1


#: ``write(folder, run)`` for every file of a range-Doppler run, in order.
PLOT_WRITERS = (
    lambda folder, run: write_plots(folder / "detections.csv", run.scenario, run.detections),
    _write_truth,
    _write_report,
    lambda folder, run: plot_range_doppler(folder / "range_doppler.png", run.scenario,
                                           run.profile, run.detections,
                                           profile_cpi(run.scenario)),
    lambda folder, run: plot_tracks_of_plots(folder / "plots.png", run.scenario, run.detections),
    lambda folder, run: write_tracks(folder / "tracks.csv", run.scenario, run.tracks),
    lambda folder, run: plot_tracks(folder / "tracks.png", run.scenario, run.tracks),
    _write_recording,
)


def run_writers(config):
    """The writers of a run of ``config``'s chain."""
    return PLOT_WRITERS if config.doppler else RUN_WRITERS
