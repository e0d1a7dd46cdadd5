"""Score detections against the scenario's truth.

A target's *truth bin* on a range line is where its compressed peak belongs:
``k = 2 R / c * fs + (N - 1)`` for an N-sample pulse (the matched filter's delay of
N - 1 samples added). A detection is *on* a target when it lies within one range
bin of that truth bin; it is *near* a target when it lies within the compressed
pulse's extent (N bins either side), where range sidelobes of a strong echo may
cross the threshold. A detection whose CFAR window reaches into the matched
filter's fill at the start of the line is an *edge* detection
(:func:`fill_edge_bins`). Every other detection is a *false* detection: noise
that crossed the threshold in a homogeneous background, whose rate the design
Pfa sets.
"""

import math
from dataclasses import dataclass

import numpy as np

from ...spec.physics import SPEED_OF_LIGHT

__all__ = ["truth_bins", "score", "Score", "TargetScore", "detectable_lines", "poisson_quantile",
           "ideal_snr_db", "fill_edge_bins", "fill_edge_cells"]

# Ideal SNR after compression above which a target must be detected.
DETECTABLE_SNR_DB = 20.0
# Confidence of the upper bound on the count of false detections.
FALSE_ALARM_CONFIDENCE = 0.999


def truth_bins(scenario):
    """Fractional truth bin of every target on every line: array (targets, lines)."""
    r = scenario.radar
    times = np.arange(r.lines) * r.pri_s
    return np.array([2 * t.range_at(times) / SPEED_OF_LIGHT * r.sample_rate_hz
                     + (r.pulse_samples - 1) for t in scenario.targets]).reshape(-1, r.lines)


def ideal_snr_db(scenario, target):
    """``snr_db + 10 log10(N)``: SNR after an ideal matched filter."""
    return target.snr_db + 10 * math.log10(scenario.radar.pulse_samples)


def detectable_lines(scenario, target_index):
    """Lines on which the target is visible and its whole echo lies inside the receive window."""
    r = scenario.radar
    times = np.arange(r.lines) * r.pri_s
    target = scenario.targets[target_index]
    delay = 2 * target.range_at(times) / SPEED_OF_LIGHT * r.sample_rate_hz
    return (delay >= r.pulse_samples) & (delay + r.pulse_samples <= r.line_samples - 1) \
        & target.visible_at(times)


def fill_edge_bins(scenario):
    """``E``: range bins below ``E = (P - 1) + N + G`` test against the matched filter's fill.

    A range line starts at the transmit pulse, so its compressed bins 0 ... P-2
    (``P`` pulse samples) are partial sums over fewer than ``P`` noise samples and
    hold less noise power than the rest. A cell whose reference window (``N +
    G`` bins either side) touches them sees a noise edge, not the homogeneous
    background its factor was designed for: an SO or CA threshold there is low
    and its false-alarm rate is above the design Pfa. These cells count neither
    as noise cells nor as false alarms; they are reported as edge alarms.
    """
    c = scenario.cfar
    return scenario.radar.pulse_samples - 1 + c.reference_cells + c.guard_cells


def fill_edge_cells(scenario, tested_cells_per_line):
    """Tested cells of one line (or one Doppler column) below :func:`fill_edge_bins`."""
    return min(scenario.radar.pulse_samples - 1, tested_cells_per_line)


@dataclass
class TargetScore:
    target_id: int
    ideal_snr_db: float
    lines_required: int      # lines where the target must be detected
    lines_detected: int      # of those, lines with a detection on the target
    mean_abs_bin_error: float  # of the strongest on-target cell of each line

    @property
    def detected_fraction(self):
        return self.lines_detected / self.lines_required if self.lines_required else float("nan")


@dataclass
class Score:
    targets: list
    false_detections: int
    near_target_detections: int
    edge_detections: int
    noise_cells_tested: int
    expected_false: float
    allowed_false: int

    def as_dict(self):
        return {
            "targets": [dict(vars(t), detected_fraction=t.detected_fraction) for t in self.targets],
            "false_detections": self.false_detections,
            "near_target_detections": self.near_target_detections,
            "edge_detections": self.edge_detections,
            "noise_cells_tested": self.noise_cells_tested,
            "expected_false": self.expected_false,
            "allowed_false": self.allowed_false,
        }


def score(scenario, detections, *, tested_cells_per_line, pfa_factor=1.0):
    """Score ``detections`` (dict of arrays ``cpi``, ``pulse``, ``range_bin``).

    Parameters
    ----------
    tested_cells_per_line : int
        Cells per range line the CFAR tests.
    pfa_factor : float
        Ratio of the real false-alarm probability to the design one (above 1 when
        neighbouring noise cells are correlated, as after an oversampled matched
        filter); scales the expected count of false detections.
    """
    r = scenario.radar
    line = detections["cpi"].astype(np.int64) * r.pulses_per_cpi + detections["pulse"]
    k = detections["range_bin"].astype(np.float64)
    bins = truth_bins(scenario)
    extent = r.pulse_samples
    near = np.zeros(len(k), dtype=bool)
    targets = []
    for tid, target in enumerate(scenario.targets):
        truth = bins[tid, line] if len(line) else np.zeros(0)
        near |= np.abs(k - truth) <= extent
        on = np.abs(k - truth) <= 1.0
        required = detectable_lines(scenario, tid)
        if ideal_snr_db(scenario, target) < DETECTABLE_SNR_DB:
            required[:] = False
        hit = np.zeros(r.lines, dtype=bool)
        hit[line[on]] = True
        errors = _peak_errors(line[on], k[on] - truth[on], detections["power"][on])
        targets.append(TargetScore(
            target_id=tid, ideal_snr_db=ideal_snr_db(scenario, target),
            lines_required=int(required.sum()), lines_detected=int((hit & required).sum()),
            mean_abs_bin_error=float(errors.mean()) if len(errors) else float("nan")))
    edge = ~near & (k < fill_edge_bins(scenario))
    near_cells = min(len(scenario.targets) * (2 * extent + 1), tested_cells_per_line)
    edge_cells = fill_edge_cells(scenario, tested_cells_per_line)
    cells = r.lines * max(tested_cells_per_line - near_cells - edge_cells, 0)
    expected = scenario.cfar.pfa * pfa_factor * cells
    allowed = poisson_quantile(FALSE_ALARM_CONFIDENCE, expected)
    return Score(targets=targets, false_detections=int((~near & ~edge).sum()),
                 near_target_detections=int(near.sum()), edge_detections=int(edge.sum()),
                 noise_cells_tested=cells,
                 expected_false=expected, allowed_false=allowed)


def _peak_errors(line, error, power):
    """``|error|`` of the strongest detection of each line."""
    if not len(line):
        return np.zeros(0)
    order = np.lexsort((-power, line))
    first = np.ones(len(order), dtype=bool)
    first[1:] = line[order][1:] != line[order][:-1]
    return np.abs(error[order][first])


def poisson_quantile(q, mean):
    """Smallest ``k`` with ``P(X <= k) >= q`` for ``X ~ Poisson(mean)`` (terms in log space)."""
    k, cdf = 0, 0.0
    while True:
        cdf += math.exp(-mean + k * math.log(mean) - math.lgamma(k + 1)) if mean > 0 else float(k == 0)
        if cdf >= q or k > mean + 40 * math.sqrt(mean) + 40:
            return k
        k += 1
