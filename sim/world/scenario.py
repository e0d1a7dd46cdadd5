"""Scenario files: what the radar is, where the targets are, and the IQ it receives.

A scenario is a TOML file in SI units::

    [radar]
    sample_rate_hz = 10e6      # complex baseband sample rate
    bandwidth_hz = 5e6         # LFM sweep width (ignored for barker13)
    pulse_width_s = 10e-6
    pri_s = 1e-3               # pulse repetition interval; pri * fs is a whole number
    carrier_hz = 435e6
    pulses_per_cpi = 16
    cpis = 8
    adc_bits = 12
    noise_seed = 1
    waveform = "lfm"           # or "barker13"
    # optional, with defaults:
    noise_rms_lsb = 8.0        # receiver noise, rms of I and of Q, in ADC steps
    window = "rect"            # matched-filter weighting: rect, hamming, hann,
                               # blackman_harris, taylor (nbar = 5, -35 dB)

    [cfar]
    reference_cells = 16       # per side
    guard_cells = 3            # per side
    pfa = 1e-6

    # optional, for the range-only chain only at these defaults:
    type = "ca"                # ca, go, so, os
    os_k = 24                  # OS rank (1-based) among the 2 x reference_cells; default 3/4
    doppler_reference_cells = 0   # per side along Doppler; > 0: two-dimensional
    doppler_guard_cells = 0

    [doppler]                  # optional: Doppler processing of each CPI
    window = "hamming"         # slow-time window, the names of radar.window
    mti = "none"               # none, two_pulse, three_pulse

    [tracker]                  # optional, with [doppler] only; these are the defaults
    tracking_index = 0.1       # lambda = sigma_a T^2 / sigma_r of the alpha-beta gains
    range_sigma_cells = 0.1    # a plot's range standard deviation, range cells
    gate_sigmas = 4.0          # gate half-width, standard deviations of the innovation
    doppler_gate_bins = 1.0    # Doppler gate half-width, bins
    doppler_gain = 0.5         # gain of the Doppler rate measurement once unfolded
    unfold_sigmas = 4.0        # confidence of the Doppler unfolding, rate sigmas
    max_speed_mps = 8000.0     # the first gate of a new track covers this speed
    max_tracks = 16            # track slots
    max_plots = 32             # plots taken per CPI (more are dropped and counted)
    confirm_m = 3              # confirm by M of the first N CPIs
    confirm_n = 5
    delete_k = 3               # delete after K consecutive misses
    unfold = true              # unfold the Doppler of settled tracks
    correct_coupling = true    # correct range-Doppler coupling of unfolded tracks

    [[target]]
    range_m = 128e3
    radial_velocity_mps = -3200   # negative = closing
    snr_db = 5                    # |a|^2 / E|n|^2 per sample, before compression
    radial_accel_mps2 = 0         # optional
    swerling = 0                  # optional: 0 steady, 1 fluctuating from CPI to CPI

    [[site]]                      # two or more (amaradar.host.site): then the targets are
    [[target]]                    # planar, in the first site's east-north-up frame:
    position_m = [60e3, 85e3]     # east, north[, up] at t = 0 (up 0 if absent)
    velocity_mps = [-900, -2400]
    accel_mps2 = [0, 30]          # optional
    snr_db = 5                    # at the first site (others: .multisite)

    [[clutter]]                   # any number: a patch of distributed clutter
    range_start_m = 8000.0
    range_stop_m = 20000.0
    cnr_db = 30.0                 # clutter power / noise power per ADC sample
    velocity_mps = 0.0            # mean radial velocity
    velocity_spread_mps = 0.3     # standard deviation of its Gaussian spectrum

Conventions: pulse ``n = cpi * M + pulse`` is transmitted at ``t = n * pri_s``; a
target's range, velocity and acceleration hold at ``t = 0``. A range line holds
``pri_s * sample_rate_hz`` samples, sample ``k`` taken ``k / fs`` after the
transmit pulse's leading edge. The receiver is gated off while it transmits:
echo energy arriving before the pulse ends (ranges below ``c * T / 2``) is cut,
and so is echo energy arriving after the line ends; receiver noise is present
in every sample. Clutter is a continuum of scatterers over its patch: complex
Gaussian reflectivity in every range sample, correlated from pulse to pulse with
a Gaussian Doppler spectrum (mean ``-2 v / lambda``, standard deviation
``2 sigma_v / lambda``), convolved with the transmitted pulse.
"""

import math
import tomllib
from dataclasses import asdict, dataclass, field
from importlib import resources

import numpy as np

from ...hdl.waveform.barker_code import BARKER13
from ...spec.physics import SPEED_OF_LIGHT
from .echo_physics import carrier_phase_turns, doppler_hz, echo_amplitude, echo_delay_s
from .geometry import Trajectory
from ...spec.records import CPI_WIDTH, PULSE_WIDTH
from ..models.detect.cfar import reference_count
from ..models.track.tracker import TrackerModel
from ..tracking import tracker_config

__all__ = [
    "ScenarioError", "Radar", "Cfar", "Target", "PlanarTarget", "Tracking", "Scenario",
    "load_scenario", "parse_scenario", "default_scenario_text", "receive_iq",
    "target_fluctuation",
]

WAVEFORMS = ("lfm", "barker13")
WINDOWS = ("rect", "hamming", "hann", "blackman_harris", "taylor")  # taylor: nbar 5, -35 dB
CFAR_TYPES = ("ca", "go", "so", "os")
MTI_MODES = ("none", "two_pulse", "three_pulse")
DOPPLER_PULSES = (8, 256)   # pulses_per_cpi of a Doppler scenario: a power of two in this range
_REL_TOL = 1e-6


class ScenarioError(ValueError):
    """A scenario that cannot be run; the message is one line naming the key."""


@dataclass(frozen=True)
class Radar:
    sample_rate_hz: float
    bandwidth_hz: float
    pulse_width_s: float
    pri_s: float
    carrier_hz: float
    pulses_per_cpi: int
    cpis: int
    adc_bits: int
    noise_seed: int
    waveform: str
    noise_rms_lsb: float = 8.0
    window: str = "rect"

    @property
    def pulse_samples(self):
        """Samples in one transmit pulse, N."""
        return round(self.pulse_width_s * self.sample_rate_hz)

    @property
    def line_samples(self):
        """Samples in one range line (one PRI), L."""
        return round(self.pri_s * self.sample_rate_hz)

    @property
    def chip_samples(self):
        """Samples per Barker chip."""
        return round(self.pulse_width_s * self.sample_rate_hz / 13)

    @property
    def lines(self):
        return self.pulses_per_cpi * self.cpis

    @property
    def duration_s(self):
        """Time from the first transmit pulse to the end of the last range line."""
        return self.lines * self.pri_s

    @property
    def wavelength_m(self):
        return SPEED_OF_LIGHT / self.carrier_hz

    @property
    def range_bin_m(self):
        """Range spacing of two samples, c / (2 fs)."""
        return SPEED_OF_LIGHT / (2 * self.sample_rate_hz)

    @property
    def unambiguous_range_m(self):
        return SPEED_OF_LIGHT * self.pri_s / 2

    @property
    def unambiguous_velocity_mps(self):
        """v_u = lambda * PRF / 4: radial velocities fold into [-v_u, v_u)."""
        return self.wavelength_m / self.pri_s / 4

    @property
    def doppler_bin_hz(self):
        """Width of a Doppler bin, PRF / M."""
        return 1 / (self.pri_s * self.pulses_per_cpi)

    def range_walk_m(self, velocity_mps):
        """How far a target at ``velocity_mps`` moves over one CPI, |v| M PRI."""
        return abs(velocity_mps) * self.pulses_per_cpi * self.pri_s


@dataclass(frozen=True)
class Cfar:
    reference_cells: int
    guard_cells: int
    pfa: float
    type: str = "ca"
    os_k: int = None                 # default: 3/4 of the 2 x reference_cells
    doppler_reference_cells: int = 0
    doppler_guard_cells: int = 0


@dataclass(frozen=True)
class Doppler:
    window: str = "hamming"
    mti: str = "none"


@dataclass(frozen=True)
class Tracking:
    """The ``[tracker]`` section: the tracker's elaboration parameters (the fields of
    ``TrackerConfig`` but the radar's) and its run-time ones (M-of-N, K, switches)."""
    tracking_index: float = 0.1
    range_sigma_cells: float = 0.1
    gate_sigmas: float = 4.0
    doppler_gate_bins: float = 1.0
    doppler_gain: float = 0.5
    unfold_sigmas: float = 4.0
    max_speed_mps: float = 8000.0
    max_tracks: int = 16
    max_plots: int = 32
    confirm_m: int = 3
    confirm_n: int = 5
    delete_k: int = 3
    unfold: bool = True
    correct_coupling: bool = True

    RUNTIME = ("confirm_m", "confirm_n", "delete_k", "unfold", "correct_coupling")

    def runtime(self):
        """The run-time settings, by the names of ``TrackerModel``'s arguments."""
        return {name: getattr(self, name) for name in self.RUNTIME}

    def elaboration(self):
        """The ``TrackerConfig`` fields it sets (not the radar nor ``range_pos_bits``)."""
        return {name: value for name, value in asdict(self).items() if name not in self.RUNTIME}


@dataclass(frozen=True)
class Clutter:
    range_start_m: float
    range_stop_m: float
    cnr_db: float
    velocity_mps: float = 0.0
    velocity_spread_mps: float = 0.0


@dataclass(frozen=True)
class Target:
    range_m: float
    radial_velocity_mps: float
    snr_db: float
    radial_accel_mps2: float = 0.0
    swerling: int = 0         # 0: constant amplitude; 1: Rayleigh, new each CPI

    def range_at(self, t):
        """Range in metres at time ``t`` (s)."""
        return self.range_m + self.radial_velocity_mps * t + 0.5 * self.radial_accel_mps2 * t * t

    def velocity_at(self, t):
        return self.radial_velocity_mps + self.radial_accel_mps2 * t

    def visible_at(self, t):
        """Whether the radar sees the target at ``t``: always (one site, no sector)."""
        return np.ones(np.shape(t), dtype=bool)


@dataclass(frozen=True)
class PlanarTarget:
    """A target of a multi-site scenario, in the first site's east-north-up frame:
    (east, north, up) at t = 0 in m, m/s, m/s² (up 0 when two numbers are given);
    ``snr_db`` at the first site (:mod:`.multisite` scales it for the others)."""
    position_m: tuple
    velocity_mps: tuple
    snr_db: float
    accel_mps2: tuple = (0.0, 0.0, 0.0)
    swerling: int = 0

    @property
    def trajectory(self):
        return Trajectory(self.position_m, self.velocity_mps, self.accel_mps2)


@dataclass(frozen=True)
class Scenario:
    radar: Radar
    cfar: Cfar
    targets: tuple = field(default_factory=tuple)
    doppler: Doppler = None          # None: the range-only chain
    clutter: tuple = field(default_factory=tuple)
    tracker: Tracking = None         # with [doppler]: the defaults unless [tracker] is given
    multisite: bool = False          # [[site]]: planar targets, run per site (.multisite)

    def as_dict(self):
        cfar = asdict(self.cfar)
        if self.doppler is None:     # the range-only chain's keys only
            cfar = {key: cfar[key] for key in _CFAR_KEYS if _CFAR_KEYS[key][1]}
        out = {"radar": asdict(self.radar), "cfar": cfar,
               "target": [asdict(t) for t in self.targets]}
        if self.doppler is not None:
            out["doppler"] = asdict(self.doppler)
        if self.clutter:
            out["clutter"] = [asdict(c) for c in self.clutter]
        if self.tracker is not None:
            out["tracker"] = asdict(self.tracker)
        return out



# key -> (type, required); float keys accept ints, int keys reject floats and bools.
_RADAR_KEYS = {
    "sample_rate_hz": (float, True), "bandwidth_hz": (float, True),
    "pulse_width_s": (float, True), "pri_s": (float, True), "carrier_hz": (float, True),
    "pulses_per_cpi": (int, True), "cpis": (int, True), "adc_bits": (int, True),
    "noise_seed": (int, True), "waveform": (str, True),
    "noise_rms_lsb": (float, False), "window": (str, False),
}
_CFAR_KEYS = {"reference_cells": (int, True), "guard_cells": (int, True), "pfa": (float, True),
              "type": (str, False), "os_k": (int, False), "doppler_reference_cells": (int, False),
              "doppler_guard_cells": (int, False)}
_DOPPLER_KEYS = {"window": (str, False), "mti": (str, False)}
_CLUTTER_KEYS = {"range_start_m": (float, True), "range_stop_m": (float, True),
                 "cnr_db": (float, True), "velocity_mps": (float, False),
                 "velocity_spread_mps": (float, False)}
_TRACKER_KEYS = {name: (kind, False) for name, kind in Tracking.__annotations__.items()}
_TARGET_KEYS = {"range_m": (float, True), "radial_velocity_mps": (float, True),
                "snr_db": (float, True), "radial_accel_mps2": (float, False),
                "swerling": (int, False)}
_PLANAR_KEYS = {"position_m": (tuple, True), "velocity_mps": (tuple, True),
                "snr_db": (float, True), "accel_mps2": (tuple, False), "swerling": (int, False)}
SWERLING_CASES = (0, 1)

# Limits that the gateware formats impose.
ADC_BITS_RANGE = (4, 18)
MAX_PULSES_PER_CPI = 1 << PULSE_WIDTH
MAX_CPIS = 1 << CPI_WIDTH
MAX_LINE_SAMPLES = 1 << 20
# Limits of the CFAR window: the CFAR factor's solver (exact Pfa of correlated cells)
# takes seconds at these window sizes and minutes beyond. (The run's length has no
# limit of its own: amaradar sim streams it CPI block by CPI block.)
MAX_PULSE_SAMPLES = 2048           # the FFT compressor's largest pulse
MAX_REFERENCE_CELLS = 48           # per side along range
MAX_GUARD_CELLS = 64
MAX_2D_REFERENCE_COUNT = 256       # cells of a two-dimensional window
SNR_DB_RANGE = (-150.0, 150.0)


def _section(table, name, keys, where):
    if not isinstance(table, dict):
        raise ScenarioError(f"{where} must be a table, not {type(table).__name__}")
    unknown = sorted(set(table) - set(keys))
    if unknown:
        raise ScenarioError(f"unknown key {where}.{unknown[0]} (allowed: {', '.join(keys)})")
    values = {}
    for key, (kind, required) in keys.items():
        if key not in table:
            if required:
                raise ScenarioError(f"missing key {where}.{key}")
            continue
        value = table[key]
        if kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            value = float(value) if ok else value
            ok = ok and math.isfinite(value)
            expected = "a finite number"
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
            expected = "an integer"
        elif kind is bool:
            ok = isinstance(value, bool)
            expected = "true or false"
        elif kind is tuple:             # a vector (east, north[, up]); up 0 if absent
            ok = isinstance(value, list) and len(value) in (2, 3) and all(
                isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
                for x in value)
            value = tuple(float(x) for x in value + [0.0] * (3 - len(value))) if ok else value
            expected = "a list of 2 or 3 finite numbers (east, north[, up])"
        else:
            ok = isinstance(value, str)
            expected = "a string"
        if not ok:
            raise ScenarioError(f"{where}.{key} must be {expected}, not {value!r}")
        values[key] = value
    return values


def _require(condition, message):
    if not condition:
        raise ScenarioError(message)


def _whole(value):
    return abs(value - round(value)) <= _REL_TOL * max(1.0, abs(value))


def _check_radar(r):
    fs = r.sample_rate_hz
    for key in ("sample_rate_hz", "bandwidth_hz", "pulse_width_s", "pri_s", "carrier_hz",
                "noise_rms_lsb"):
        _require(getattr(r, key) > 0, f"radar.{key} must be > 0, not {getattr(r, key)!r}")
    _require(r.waveform in WAVEFORMS,
             f"radar.waveform must be one of {', '.join(WAVEFORMS)}, not {r.waveform!r}")
    _require(r.window in WINDOWS,
             f"radar.window must be one of {', '.join(WINDOWS)}, not {r.window!r}")
    lo, hi = ADC_BITS_RANGE
    _require(lo <= r.adc_bits <= hi, f"radar.adc_bits must be {lo} to {hi}, not {r.adc_bits}")
    _require(1 <= r.pulses_per_cpi <= MAX_PULSES_PER_CPI,
             f"radar.pulses_per_cpi must be 1 to {MAX_PULSES_PER_CPI}, not {r.pulses_per_cpi}")
    _require(1 <= r.cpis <= MAX_CPIS, f"radar.cpis must be 1 to {MAX_CPIS}, not {r.cpis}")
    _require(r.noise_seed >= 0, f"radar.noise_seed must be >= 0, not {r.noise_seed}")
    _require(_whole(r.pri_s * fs),
             f"radar.pri_s = {r.pri_s!r} is not a whole number of samples at "
             f"sample_rate_hz = {fs!r} ({r.pri_s * fs:.6g})")
    _require(r.line_samples <= MAX_LINE_SAMPLES,
             f"radar.pri_s = {r.pri_s!r} gives {r.line_samples} samples per line; "
             f"at most {MAX_LINE_SAMPLES} are allowed")
    _require(r.pulse_width_s < r.pri_s,
             f"radar.pulse_width_s = {r.pulse_width_s!r} must be shorter than pri_s = {r.pri_s!r}")
    if r.waveform == "lfm":
        _require(r.bandwidth_hz <= fs * (1 + _REL_TOL),
                 f"radar.bandwidth_hz = {r.bandwidth_hz!r} exceeds sample_rate_hz = {fs!r}: "
                 "an LFM must fit the complex sample rate")
        _require(r.pulse_samples >= 2,
                 f"radar.pulse_width_s = {r.pulse_width_s!r} is {r.pulse_width_s * fs:.3g} samples; "
                 "an LFM needs at least 2")
    else:
        chip = r.pulse_width_s * fs / 13
        _require(_whole(chip) and round(chip) >= 1,
                 f"radar.pulse_width_s = {r.pulse_width_s!r} gives {chip:.6g} samples per Barker "
                 "chip; pulse_width_s / 13 must be a whole number (>= 1) of samples")
    _require(r.pulse_samples <= MAX_PULSE_SAMPLES,
             f"radar.pulse_width_s = {r.pulse_width_s!r} gives {r.pulse_samples} samples; the "
             f"pulse compressor takes at most {MAX_PULSE_SAMPLES}")


def _check_cfar(c, radar, doppler):
    _require(1 <= c.reference_cells <= MAX_REFERENCE_CELLS,
             f"cfar.reference_cells must be 1 to {MAX_REFERENCE_CELLS}, not {c.reference_cells}")
    _require(0 <= c.guard_cells <= MAX_GUARD_CELLS,
             f"cfar.guard_cells must be 0 to {MAX_GUARD_CELLS}, not {c.guard_cells}")
    _require(0 < c.pfa < 1, f"cfar.pfa must be between 0 and 1 (exclusive), not {c.pfa!r}")
    window = 2 * (c.reference_cells + c.guard_cells) + 1
    _require(window <= radar.line_samples,
             f"cfar window of {window} cells (2 * (reference_cells + guard_cells) + 1) is longer "
             f"than a range line of {radar.line_samples} samples")
    _require(c.type in CFAR_TYPES,
             f"cfar.type must be one of {', '.join(CFAR_TYPES)}, not {c.type!r}")
    cells = 2 * c.reference_cells
    _require(1 <= c.os_k <= cells, f"cfar.os_k must be 1 to {cells} (2 * reference_cells), "
             f"not {c.os_k}")
    for key in ("doppler_reference_cells", "doppler_guard_cells"):
        _require(getattr(c, key) >= 0, f"cfar.{key} must be >= 0, not {getattr(c, key)}")
    if doppler is None:
        for key, default in (("type", "ca"), ("doppler_reference_cells", 0),
                             ("doppler_guard_cells", 0)):
            _require(getattr(c, key) == default,
                     f"cfar.{key} = {getattr(c, key)!r} needs a [doppler] section (the range-only "
                     f"chain has a CA-CFAR along range)")
        return
    _require(c.doppler_guard_cells == 0 or c.doppler_reference_cells > 0,
             f"cfar.doppler_guard_cells = {c.doppler_guard_cells} needs doppler_reference_cells > 0")
    span = 2 * (c.doppler_reference_cells + c.doppler_guard_cells) + 1
    _require(span <= radar.pulses_per_cpi,
             f"cfar Doppler window of {span} cells (2 * (doppler_reference_cells + "
             f"doppler_guard_cells) + 1) is wider than the {radar.pulses_per_cpi} Doppler bins")
    if c.doppler_reference_cells:
        n = reference_count(c.reference_cells, c.guard_cells, c.doppler_reference_cells,
                            c.doppler_guard_cells)
        _require(n <= MAX_2D_REFERENCE_COUNT,
                 f"cfar two-dimensional window of {n} reference cells; at most "
                 f"{MAX_2D_REFERENCE_COUNT} are allowed")


def _check_doppler(d, radar):
    _require(d.window in WINDOWS,
             f"doppler.window must be one of {', '.join(WINDOWS)}, not {d.window!r}")
    _require(d.mti in MTI_MODES, f"doppler.mti must be one of {', '.join(MTI_MODES)}, not {d.mti!r}")
    lo, hi = DOPPLER_PULSES
    m = radar.pulses_per_cpi
    _require(lo <= m <= hi and m & (m - 1) == 0,
             f"radar.pulses_per_cpi must be a power of two from {lo} to {hi} with [doppler], not {m}")


def _check_tracker(t, radar):
    """The tracker's own checks (``TrackerConfig``, ``TrackerModel``), named as keys."""
    try:
        TrackerModel(tracker_config(radar, t), **t.runtime())
    except (TypeError, ValueError) as e:
        raise ScenarioError(f"tracker.{e}") from None


def _check_clutter(c, index, radar):
    where = f"clutter[{index}]"
    _require(c.range_start_m >= 0, f"{where}.range_start_m must be >= 0, not {c.range_start_m!r}")
    _require(c.range_stop_m > c.range_start_m,
             f"{where}.range_stop_m = {c.range_stop_m!r} must be above range_start_m = "
             f"{c.range_start_m!r}")
    _require(c.range_stop_m < radar.unambiguous_range_m,
             f"{where}.range_stop_m = {c.range_stop_m!r} is beyond the unambiguous range "
             f"{radar.unambiguous_range_m:.1f} m (c * pri_s / 2)")
    lo, hi = SNR_DB_RANGE
    _require(lo <= c.cnr_db <= hi, f"{where}.cnr_db must be {lo:g} to {hi:g}, not {c.cnr_db!r}")
    _require(c.velocity_spread_mps >= 0,
             f"{where}.velocity_spread_mps must be >= 0, not {c.velocity_spread_mps!r}")


def _check_target(t, index, radar, duration):
    where = f"target[{index}]"
    _require(t.range_m > 0, f"{where}.range_m must be > 0, not {t.range_m!r}")
    lo, hi = SNR_DB_RANGE
    _require(lo <= t.snr_db <= hi, f"{where}.snr_db must be {lo:g} to {hi:g}, not {t.snr_db!r}")
    _require(t.swerling in SWERLING_CASES, f"{where}.swerling must be 0 or 1, not {t.swerling}")
    times = [0.0, duration]
    if t.radial_accel_mps2:
        vertex = -t.radial_velocity_mps / t.radial_accel_mps2
        if 0 < vertex < duration:
            times.append(vertex)
    ranges = [t.range_at(x) for x in times]
    r_max = radar.unambiguous_range_m
    _require(max(ranges) < r_max,
             f"{where} reaches {max(ranges):.1f} m, beyond the unambiguous range "
             f"{r_max:.1f} m (c * pri_s / 2)")
    _require(min(ranges) > 0, f"{where} reaches range {min(ranges):.1f} m during the scenario; "
             "it must stay > 0")


def parse_scenario(doc):
    """Check a parsed TOML document and return a :class:`Scenario`.

    Raises :class:`ScenarioError` with one line naming the offending key.
    """
    tables = ("radar", "cfar", "doppler", "tracker", "target", "clutter",
              "site")  # [site]: amaradar.host.site
    unknown = sorted(set(doc) - set(tables))
    if unknown:
        raise ScenarioError(f"unknown table [{unknown[0]}] (allowed: {', '.join(tables)})")
    for key in ("radar", "cfar"):
        if key not in doc:
            raise ScenarioError(f"missing table [{key}]")
    radar = Radar(**_section(doc["radar"], "radar", _RADAR_KEYS, "radar"))
    _check_radar(radar)
    doppler = None
    if "doppler" in doc:
        doppler = Doppler(**_section(doc["doppler"], "doppler", _DOPPLER_KEYS, "doppler"))
        _check_doppler(doppler, radar)
    cfar = _section(doc["cfar"], "cfar", _CFAR_KEYS, "cfar")
    cfar.setdefault("os_k", max(1, 2 * cfar["reference_cells"] * 3 // 4))
    cfar = Cfar(**cfar)
    _check_cfar(cfar, radar, doppler)
    multisite = isinstance(doc.get("site"), list)
    targets = _targets(doc, multisite)
    for i, t in enumerate(targets):
        if isinstance(t, PlanarTarget):
            _check_planar_target(t, i)
        else:
            _check_target(t, i, radar, radar.duration_s)
    clutter = tuple(Clutter(**c) for c in _array(doc, "clutter", _CLUTTER_KEYS))
    for i, c in enumerate(clutter):
        _check_clutter(c, i, radar)
    tracker = None
    if doppler is not None:
        tracker = Tracking(**_section(doc.get("tracker", {}), "tracker", _TRACKER_KEYS, "tracker"))
        _check_tracker(tracker, radar)
    elif "tracker" in doc:
        raise ScenarioError("[tracker] needs a [doppler] section (the tracker takes plots)")
    return Scenario(radar, cfar, targets, doppler, clutter, tracker, multisite)


def _targets(doc, multisite):
    """The ``[[target]]`` tables: all one-dimensional (``range_m``) without ``[[site]]``,
    all planar (``position_m``) with it."""
    raw = doc.get("target", [])
    raw = raw if isinstance(raw, list) else []     # _array refuses it below
    planar = [isinstance(t, dict) and bool(set(t) & {"position_m", "velocity_mps", "accel_mps2"})
              for t in raw]
    for i, is_planar in enumerate(planar):
        if is_planar != planar[0]:
            raise ScenarioError(f"target[{i}] is {'planar' if is_planar else 'one-dimensional'} "
                                f"but target[0] is not: the targets must all be planar "
                                f"(position_m) or all one-dimensional (range_m)")
        if is_planar and not multisite:
            raise ScenarioError(f"target[{i}].position_m needs two or more [[site]] tables "
                                "(a planar target lies in the first site's east-north-up frame)")
        if not is_planar and multisite:
            raise ScenarioError(f"target[{i}] is one-dimensional (range_m): with [[site]] give "
                                "position_m and velocity_mps in the first site's east-north-up frame")
    if multisite:
        return tuple(PlanarTarget(**t) for t in _array(doc, "target", _PLANAR_KEYS))
    return tuple(Target(**t) for t in _array(doc, "target", _TARGET_KEYS))


def _check_planar_target(t, index):
    """What a planar target's keys allow alone; its ranges are checked per site."""
    where = f"target[{index}]"
    lo, hi = SNR_DB_RANGE
    _require(lo <= t.snr_db <= hi, f"{where}.snr_db must be {lo:g} to {hi:g}, not {t.snr_db!r}")
    _require(t.swerling in SWERLING_CASES, f"{where}.swerling must be 0 or 1, not {t.swerling}")


def _array(doc, name, keys):
    """The checked tables of the array of tables ``[[name]]`` (none if absent)."""
    raw = doc.get(name, [])
    if not isinstance(raw, list):
        raise ScenarioError(f"{name} must be an array of tables ([[{name}]])")
    return [_section(t, name, keys, f"{name}[{i}]") for i, t in enumerate(raw)]


def default_scenario_text():
    """The built-in scenario: two closing ballistic missiles and an aircraft."""
    return resources.files("amaradar").joinpath("scenarios/default.toml").read_text()


def load_scenario(path=None):
    """Read and check a scenario file (``None``: the built-in one)."""
    if path is None:
        text, name = default_scenario_text(), "built-in scenario"
    else:
        try:
            with open(path, "rb") as f:
                text = f.read().decode("utf-8")
        except OSError as e:
            raise ScenarioError(f"cannot read scenario file {str(path)!r}: {e.strerror}") from None
        except UnicodeDecodeError:
            raise ScenarioError(f"scenario file {str(path)!r} is not UTF-8 text") from None
        name = str(path)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{name} is not valid TOML: {e}") from None
    return parse_scenario(doc)


def transmit_pulse_ideal(radar):
    """The transmitted pulse as a function of time: returns ``s(t)`` for arrays of t (s).

    LFM: unit-modulus chirp sweeping B over the pulse width T at the rate B/T,
    through 0 Hz at ``t_c = (N - 1) / (2 fs)``, the middle of its ``N`` samples: from
    ``-B (N-1) / 2N`` at t = 0 to ``B (N+1) / 2N`` at t = T. Sampled at ``k / fs`` it
    is symmetric in time, as the generator's pulse
    (:func:`amaradar.sim.chain.transmit_pulse`) is. Barker-13: +1/-1 chips of
    ``pulse_width / 13``. Zero outside ``0 <= t < T``.
    """
    width = radar.pulse_width_s
    if radar.waveform == "lfm":
        rate = radar.bandwidth_hz / width
        centre = (radar.pulse_samples - 1) / (2 * radar.sample_rate_hz)

        def pulse(t):
            inside = (t >= 0) & (t < width)
            return np.where(inside, np.exp(1j * np.pi * rate * (t - centre) ** 2), 0)
    else:
        code = np.array(BARKER13, dtype=float)

        def pulse(t):
            inside = (t >= 0) & (t < width)
            chip = np.clip(np.floor(t / (width / 13)).astype(int), 0, 12)
            return np.where(inside, code[chip], 0)
    return pulse


def receive_iq(scenario, first_cpi=0, cpis=None, *, range_walk=True):
    """The ADC samples of the range lines of ``cpis`` CPIs from CPI ``first_cpi``
    (default: every CPI of the scenario). With ``range_walk=False`` each echo's
    delay is held over a CPI at the range of its middle pulse (its carrier phase
    still follows the range, so its Doppler is kept): the echoes of a radar without
    range walk, the reference of the walk loss.

    Each target's echo (on the pulses where the target is ``visible_at`` the pulse's
    time: outside a site's sector it gives none) is the ideal transmitted pulse delayed by ``2 R / c``
    (fractional delays, range held over one pulse), scaled to ``snr_db`` against
    the noise, shifted by its Doppler frequency ``-2 v / lambda`` within the pulse
    and rotated by the carrier phase ``-4 pi R / lambda`` from pulse to pulse. A
    Swerling 1 target's amplitude is further multiplied, over each CPI, by one
    draw of unit-power complex Gaussian (Rayleigh amplitude, exponential power of
    mean ``snr_db``, uniform phase), independent from CPI to CPI, from a random
    stream of its own (so the noise is the same as with a steady target).
    Noise is complex white Gaussian, ``noise_rms_lsb`` rms in I and in Q. Each
    clutter patch adds :func:`clutter_echo`. The sum is rounded half to even and
    saturated to ``adc_bits`` like an ADC.

    Every CPI draws its noise and its clutter from random streams of its own (seeded
    by ``noise_seed`` and the CPI's number), so a CPI's samples are the same whichever
    block of CPIs asks for them: a run streamed in blocks receives what one call for
    the whole run returns.

    Returns
    -------
    iq : ndarray of complex128, shape (cpis * pulses_per_cpi, L)
        Integer-valued samples (real and imaginary parts are whole numbers).
    clipped : int
        ADC samples (I or Q) that saturated.
    """
    r = scenario.radar
    cpis = r.cpis - first_cpi if cpis is None else cpis
    if not (0 <= first_cpi and 0 < cpis and first_cpi + cpis <= r.cpis):
        raise ValueError(f"CPIs {first_cpi} to {first_cpi + cpis - 1} are not within the "
                         f"scenario's 0 to {r.cpis - 1}")
    m, length = r.pulses_per_cpi, r.line_samples
    iq = np.empty((cpis * m, length), dtype=np.complex128)
    for k in range(cpis):
        rng = np.random.default_rng([r.noise_seed, 0, first_cpi + k])
        lines = iq[k * m:(k + 1) * m]
        lines.real = rng.normal(0.0, r.noise_rms_lsb, (m, length))
        lines.imag = rng.normal(0.0, r.noise_rms_lsb, (m, length))
    blank = int(math.ceil(r.pulse_width_s * r.sample_rate_hz - 1e-9))
    first_line = first_cpi * m
    for index, target in enumerate(scenario.targets):
        _add_echo(iq, r, target, target_fluctuation(r, target, index), first_line, blank,
                  range_walk)
    for index, patch in enumerate(scenario.clutter):
        for k in range(cpis):
            rng = np.random.default_rng([r.noise_seed, 1, index, first_cpi + k])
            _add_clutter(iq[k * m:(k + 1) * m], r, patch, rng, blank)
    full = 2 ** (r.adc_bits - 1)
    parts = np.stack([iq.real, iq.imag])
    del iq
    rounded = np.rint(parts, out=parts)
    clipped = int(np.count_nonzero((rounded > full - 1) | (rounded < -full)))
    rounded = np.clip(rounded, -full, full - 1, out=rounded)
    return rounded[0] + 1j * rounded[1], clipped


def _add_echo(iq, radar, target, amplitude, first_line, blank, range_walk):
    """Add ``target``'s echo (``amplitude``: its factor in each CPI of the scenario) to
    the lines ``iq`` that start at the scenario's line ``first_line``; without
    ``range_walk``, its delay held at the CPI's middle pulse."""
    fs, length, n_pulse = radar.sample_rate_hz, radar.line_samples, radar.pulse_samples
    m = radar.pulses_per_cpi
    pulse = transmit_pulse_ideal(radar)
    scale = echo_amplitude(target.snr_db, radar.noise_rms_lsb)
    for row in range(len(iq)):
        n = first_line + row
        t_n = n * radar.pri_s
        if not target.visible_at(t_n):
            continue
        rng_m = target.range_at(t_n)
        delay = echo_delay_s(rng_m if range_walk else
                             target.range_at((n // m * m + m // 2) * radar.pri_s))
        doppler = doppler_hz(target.velocity_at(t_n), radar.wavelength_m)
        start = max(int(math.floor(delay * fs)), blank)
        stop = min(int(math.ceil(delay * fs)) + n_pulse + 1, length)
        if start >= stop:
            continue
        t = np.arange(start, stop) / fs
        echo = pulse(t - delay) * np.exp(2j * np.pi * doppler * (t - delay))
        carrier = np.exp(2j * np.pi * carrier_phase_turns(rng_m, radar.wavelength_m))
        iq[row, start:stop] += scale * amplitude[n // m] * carrier * echo


def target_fluctuation(radar, target, index):
    """Amplitude factor of target ``index`` in each CPI: 1 (Swerling 0), or a unit-power
    complex Gaussian draw per CPI (Swerling 1) from its own stream."""
    if target.swerling == 0:
        return np.ones(radar.cpis)
    rng = np.random.default_rng([radar.noise_seed, 2, index])
    return (rng.normal(size=radar.cpis) + 1j * rng.normal(size=radar.cpis)) / math.sqrt(2)


def clutter_reflectivity(radar, patch, rng, samples, lines=None):
    """Complex Gaussian reflectivity of ``samples`` range samples over ``lines`` pulses
    (default: every pulse of the scenario).

    Independent from range sample to range sample; from pulse to pulse a Gaussian
    Doppler spectrum centred on ``-2 v / lambda`` with standard deviation
    ``2 sigma_v / lambda`` (folded into one PRF; all power in one bin when the
    spread is 0), made by shaping white noise in the frequency domain over the
    ``lines`` pulses (:func:`receive_iq` asks for one CPI at a time: the clutter of
    different CPIs is independent). Unit mean power.

    Returns
    -------
    ndarray of complex128, shape (lines, samples)
    """
    lines = radar.lines if lines is None else lines
    white = (rng.normal(size=(lines, samples)) + 1j * rng.normal(size=(lines, samples))) / np.sqrt(2)
    prf = 1 / radar.pri_s
    offset = np.fft.fftfreq(lines, d=radar.pri_s) - doppler_hz(patch.velocity_mps, radar.wavelength_m)
    offset = (offset + prf / 2) % prf - prf / 2
    spread = 2 * patch.velocity_spread_mps / radar.wavelength_m
    if spread > 0:
        # relative to the bin nearest the centre, which therefore never underflows
        shape = np.exp(-(offset ** 2 - np.min(offset ** 2)) / (2 * spread ** 2))
    else:
        shape = (np.abs(offset) == np.abs(offset).min()).astype(float)
    shape *= lines / shape.sum()
    return np.fft.ifft(np.fft.fft(white, axis=0) * np.sqrt(shape)[:, np.newaxis], axis=0)


def clutter_echo(radar, patch, rng, lines=None):
    """The echo of one clutter patch in ``lines`` range lines (default: every line of
    the scenario; before the ADC), with its first range sample: ``(echo, first)``,
    ``echo`` of shape (lines, samples).

    Scatterers sit at every range sample from ``2 range_start / c`` to
    ``2 range_stop / c``; the echo is their reflectivity
    (:func:`clutter_reflectivity`) convolved with the transmitted pulse sampled at
    whole samples, scaled so that a sample whose pulse lies wholly in the patch has
    ``cnr_db`` over the noise power ``2 noise_rms_lsb**2``.
    """
    from scipy.signal import oaconvolve
    fs = radar.sample_rate_hz
    first = int(math.ceil(echo_delay_s(patch.range_start_m) * fs))
    last = int(math.floor(echo_delay_s(patch.range_stop_m) * fs))
    pulse = transmit_pulse_ideal(radar)(np.arange(radar.pulse_samples) / fs)
    power = 10 ** (patch.cnr_db / 10) * 2 * radar.noise_rms_lsb ** 2 / np.sum(np.abs(pulse) ** 2)
    rho = clutter_reflectivity(radar, patch, rng, max(0, last - first + 1), lines) * np.sqrt(power)
    return oaconvolve(rho, pulse[np.newaxis, :], axes=1), first


def _add_clutter(iq, radar, patch, rng, blank):
    """Add :func:`clutter_echo` of ``patch`` to ``iq``, cut by the receiver's gate."""
    echo, first = clutter_echo(radar, patch, rng, len(iq))
    start, stop = max(first, blank), min(first + echo.shape[1], iq.shape[1])
    if start < stop:
        iq[:, start:stop] += echo[:, start - first:stop - first]
