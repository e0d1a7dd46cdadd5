"""The multi-target tracker's parameters and integer tables, shared by the gateware and its models.

The tracker holds every number as an integer of a stated width; its constants
are derived here once, from the radar (:class:`TrackerRadar`) and the
elaboration parameters (:class:`TrackerConfig`), by :func:`tracker_tables`. The
bit-exact model (``amaradar.sim.models.track.tracker``) and the future gateware
read the same words; the ideal float tracker reads the unquantised values they
were rounded from.

Units
-----
plot range      1/256 range cell (``POSITION_FRAC`` fraction bits), unsigned.
plot Doppler    1/256 Doppler bin modulo ``M * 256``, zero Doppler at ``M * 128``; a
                *Doppler LSB* below is 1/256 bin, the folded Doppler ``x`` of a plot
                is ``doppler_pos - M * 128`` (signed, ``-M*128 <= x < M*128``).
range state     ``2**-STATE_FRAC`` range cell (cells as the plots count them),
                unsigned, ``range_pos_bits + STATE_FRAC - POSITION_FRAC`` bits.
rate state      ``2**-STATE_FRAC`` range cell per CPI, signed, ``rate_bits`` bits; a
                closing target has a negative rate. One CPI is the time step, so a
                prediction is one addition.
gains           unsigned words with ``GAIN_FRAC`` fraction bits (1.0 = ``2**GAIN_FRAC``).
distances       normalised to the gate: ``2**DIST_FRAC`` on the gate's edge.

A *scaled constant* ``(word, shift)`` stands for ``word * 2**-shift``: a signed
mantissa of at most ``SCALE_BITS`` bits (its top bit set) and a right shift; the
product ``x * word`` is shifted right by ``shift`` with the rounding the model
states. No division happens at run time: every quotient is such a product.

Gains and gates
---------------
The gains and gates come from the Kalman filter of the constant-velocity model
with discrete white-noise acceleration, computed in float here and rounded half
to even: measurement noise ``sigma_r = range_sigma_cells``, acceleration noise
``sigma_a = tracking_index * sigma_r`` per CPI**2 (so that the tracking index is
``lambda = sigma_a T**2 / sigma_r`` with ``T`` = 1 CPI), transition
``F = [[1, 1], [0, 1]]``, process noise ``sigma_a**2 [[1/4, 1/2], [1/2, 1]]``.

A track of *age* 1 (one plot) has the posterior ``diag(sigma_r**2, sigma_0**2)``
with ``sigma_0 = max_rate / gate_sigmas`` (its rate is unknown up to the largest
speed). Let ``P(a, k)`` be the posterior of age ``a`` predicted ``k`` CPIs ahead
and ``S(a, k) = P(a, k)[0, 0] + sigma_r**2``. The update of a track of age ``a``
after ``m`` consecutive misses has the gains
``alpha[a, m], beta[a, m] = P(a, m + 1)[:, 0] / S(a, m + 1)``, and its gate is
``gate[a, m] = gate_sigmas * sqrt(S(a, m + 1))``; the posterior of age ``a + 1``
is that of the update without misses. The tables stop at ``age_max``, the first
age whose update without misses has both rounded gains equal to the rounded
steady-state gains of Kalata (``alpha = -(l**2 + 8l - (l+4) r)/8``,
``beta = (l**2 + 4l - l r)/4``, ``r = sqrt(l**2 + 8l)``), or at the unfolding age
if that is later, at most ``AGE_LIMIT``; the age saturates there (after misses,
the next update's age is the table's approximation of the filter's state).

Doppler unfolding
-----------------
``unfold_age`` is the first age whose posterior rate deviation satisfies
``unfold_sigmas * sigma_rate(a) <= v_u`` (in cells per CPI): from there on the
rate estimate picks the right Doppler ambiguity with at least the confidence of
``unfold_sigmas`` standard deviations. It is ``age_max + 1`` (never) if no age
qualifies.
"""

import math
import numbers
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ...spec.checks import check_integer
from ...spec.physics import SPEED_OF_LIGHT
from ...spec.records import POSITION_FRAC

__all__ = [
    "STATE_FRAC", "GAIN_FRAC", "DIST_FRAC", "SCALE_BITS", "AGE_LIMIT", "TENTATIVE_OFFSET",
    "STATUS_TENTATIVE", "STATUS_CONFIRMED", "STATUS_COASTING", "STATUS_NAMES", "TRACKER_FLAGS",
    "SWEEPS", "TrackerRadar", "TrackerConfig", "TrackerTables", "tracker_tables",
    "kalata_gains", "scale_word",
]

STATE_FRAC = 16
GAIN_FRAC = 16
DIST_FRAC = 8
SCALE_BITS = 18
AGE_LIMIT = 255
#: Added to the distances of a tentative track: every confirmed (or coasting)
#: track's pairs sort before every tentative track's (a distance is at most
#: ``2 * 2**DIST_FRAC + 1``).
TENTATIVE_OFFSET = 4 << DIST_FRAC

STATUS_TENTATIVE, STATUS_CONFIRMED, STATUS_COASTING = 0, 1, 2
STATUS_NAMES = ("tentative", "confirmed", "coasting")
#: Sticky flags of the tracker, LSB first.
TRACKER_FLAGS = ("plot_overflow", "track_overflow", "id_exhausted", "range_saturated",
                 "rate_saturated")
SWEEPS = ("up", "down", None)


def _check_number(name, value, *, high=None):
    """Return ``value`` as a float after checking it is a finite real number ``> 0``
    (and ``<= high``)."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number, not {value!r}")
    value = float(value)
    if not (math.isfinite(value) and value > 0 and (high is None or value <= high)):
        allowed = f"> 0 and <= {high:g}" if high is not None else "finite and > 0"
        raise ValueError(f"{name} must be {allowed}, not {value!r}")
    return value


def kalata_gains(tracking_index):
    """Steady-state alpha-beta gains of tracking index ``lambda`` (Kalata 1984).

    Returns ``(alpha, beta)``: ``alpha = -(l**2 + 8l - (l+4) r) / 8``,
    ``beta = (l**2 + 4l - l r) / 4``, ``r = sqrt(l**2 + 8l)``.
    """
    lam = _check_number("tracking_index", tracking_index)
    r = math.sqrt(lam * lam + 8 * lam)
    return -(lam * lam + 8 * lam - (lam + 4) * r) / 8, (lam * lam + 4 * lam - lam * r) / 4


def scale_word(value, bits=SCALE_BITS):
    """The scaled constant ``(word, shift)`` nearest ``value``: ``word * 2**-shift``.

    ``|word| < 2**bits`` with its top bit set (the most precision the mantissa
    holds), rounded half to even, ``shift >= 0``; ``(0, 0)`` for zero. Raises
    ``ValueError`` if ``|value| >= 2**bits`` (it would need a left shift).
    """
    if value == 0:
        return 0, 0
    _, exponent = math.frexp(abs(value))          # |value| = m * 2**exponent, 1/2 <= m < 1
    shift = bits - exponent
    if shift < 0:
        raise ValueError(f"constant {value!r} does not fit a {bits}-bit mantissa")
    word = round(abs(value) * 2.0 ** shift)
    if word == 1 << bits:                          # rounded up to the next power of two
        word, shift = word >> 1, shift - 1
    return (word if value > 0 else -word), shift


@dataclass(frozen=True, kw_only=True)
class TrackerRadar:
    """The radar as the tracker sees it (elaboration constants).

    Parameters
    ----------
    range_cell_m : float
        Range spacing of two samples, ``c / (2 fs)`` (m).
    cpi_s : float
        Time from one CPI to the next, ``M * PRI`` (s): the tracker's time step.
    pulses : int
        Pulses per CPI, ``M``: a power of two from 2 to 4096 (plot Doppler
        positions are modulo ``M * 256``; unfolding divides by it with a shift).
    unambiguous_velocity_mps : float
        ``v_u = lambda * PRF / 4`` (m/s): Doppler velocities fold into
        ``[-v_u, v_u)``.
    sweep : {"up", "down", None}
        Sweep direction of the LFM: ``"up"`` shows a closing target closer than
        it is (measured delay = true delay - ``f_d T / B``), ``"down"`` farther.
        None: no range-Doppler coupling (e.g. a phase code).
    pulse_width_s, bandwidth_hz : float, optional
        ``T`` and ``B`` of the LFM; needed with a sweep.
    """
    range_cell_m: float
    cpi_s: float
    pulses: int
    unambiguous_velocity_mps: float
    sweep: str = None
    pulse_width_s: float = None
    bandwidth_hz: float = None

    def __post_init__(self):
        _check_number("range_cell_m", self.range_cell_m)
        _check_number("cpi_s", self.cpi_s)
        check_integer("pulses", self.pulses, 2, 4096)
        if self.pulses & (self.pulses - 1):
            raise ValueError(f"pulses must be a power of two, not {self.pulses}")
        _check_number("unambiguous_velocity_mps", self.unambiguous_velocity_mps)
        if self.sweep not in SWEEPS:
            raise ValueError(f"sweep must be one of 'up', 'down', None, not {self.sweep!r}")
        if self.sweep is not None:
            _check_number("pulse_width_s", self.pulse_width_s)
            _check_number("bandwidth_hz", self.bandwidth_hz)

    @property
    def pri_s(self):
        return self.cpi_s / self.pulses

    @property
    def wavelength_m(self):
        """``lambda = 4 v_u PRI``."""
        return 4 * self.unambiguous_velocity_mps * self.pri_s

    @property
    def rate_scale_mps(self):
        """Metres per second of one range cell per CPI."""
        return self.range_cell_m / self.cpi_s

    @property
    def unambiguous_rate(self):
        """``v_u`` in range cells per CPI; the Doppler folds with the period ``2 v_u``."""
        return self.unambiguous_velocity_mps / self.rate_scale_mps

    @property
    def rate_per_doppler_lsb(self):
        """Range rate (cells per CPI) of one Doppler LSB (1/256 bin): a bin is
        ``2 v_u / M`` and positive Doppler closes, so this is negative."""
        return -2 * self.unambiguous_rate / self.pulses / 256

    @property
    def coupling_per_doppler_lsb(self):
        """Range correction (cells) per Doppler LSB: ``f_d T fs / B`` with its sign.

        An up-sweep measures a target at Doppler ``f_d`` ``f_d T / B`` early, i.e.
        ``f_d T fs / B`` cells closer; the correction adds it back (positive for an
        up-sweep, negative for a down-sweep, 0 without a sweep).
        """
        if self.sweep is None:
            return 0.0
        sample_rate = SPEED_OF_LIGHT / (2 * self.range_cell_m)
        hz_per_lsb = 1 / (self.pri_s * self.pulses * 256)
        shift = hz_per_lsb * self.pulse_width_s / self.bandwidth_hz * sample_rate
        return shift if self.sweep == "up" else -shift

    @property
    def coupling_per_rate(self):
        """Range correction (cells) of a plot of a target whose range rate is one cell per
        CPI: the coupling of the Doppler that rate unfolds to."""
        return self.coupling_per_doppler_lsb / self.rate_per_doppler_lsb


@dataclass(frozen=True, kw_only=True)
class TrackerConfig:
    """Elaboration parameters of the tracker.

    Parameters
    ----------
    radar : TrackerRadar
    max_tracks : int
        Track slots ``T`` (1 to 1024).
    max_plots : int
        Plots taken per CPI (1 to 1024); more are dropped, counted and flagged.
    range_pos_bits : int
        Bits of a plot's ``range_pos`` (9 to 32).
    tracking_index : float
        ``lambda = sigma_a T**2 / sigma_r`` of the gain table (> 0).
    range_sigma_cells : float
        Standard deviation of a plot's range, cells (> 0).
    max_speed_mps : float
        Largest target speed (m/s): the first gate of a new track covers it.
    gate_sigmas : float
        Gate half-width in standard deviations of the innovation (> 0).
    doppler_gate_bins : float
        Doppler gate half-width, bins (> 0, at most ``M / 2``): around the Doppler
        that an unfolded track's rate predicts, or around the folded Doppler of a
        folded track's last plot.
    doppler_gain : float
        Gain of the Doppler rate measurement in an unfolded track's rate, in
        ``(0, 1]``.
    unfold_sigmas : float
        Confidence of the unfolding, in standard deviations of the rate (> 0).
    window_max : int
        Largest ``N`` of the M-of-N confirmation (1 to 32).
    misses_max : int
        Largest ``K`` of the deletion after ``K`` misses (1 to 64).
    id_bits : int
        Bits of a track id (4 to 32): ids ``0 ... 2**id_bits - 1``, never reused.
    """
    radar: TrackerRadar
    max_tracks: int = 16
    max_plots: int = 32
    range_pos_bits: int = 24
    tracking_index: float = 0.1
    range_sigma_cells: float = 0.1
    max_speed_mps: float = 8000.0
    gate_sigmas: float = 4.0
    doppler_gate_bins: float = 1.0
    doppler_gain: float = 0.5
    unfold_sigmas: float = 4.0
    window_max: int = 8
    misses_max: int = 8
    id_bits: int = 16

    def __post_init__(self):
        if not isinstance(self.radar, TrackerRadar):
            raise TypeError(f"radar must be a TrackerRadar, not {self.radar!r}")
        check_integer("max_tracks", self.max_tracks, 1, 1024)
        check_integer("max_plots", self.max_plots, 1, 1024)
        check_integer("range_pos_bits", self.range_pos_bits, 9, 32)
        for name in ("tracking_index", "range_sigma_cells", "max_speed_mps", "gate_sigmas",
                     "unfold_sigmas"):
            _check_number(name, getattr(self, name))
        _check_number("doppler_gate_bins", self.doppler_gate_bins, high=self.radar.pulses / 2)
        _check_number("doppler_gain", self.doppler_gain, high=1.0)
        check_integer("window_max", self.window_max, 1, 32)
        check_integer("misses_max", self.misses_max, 1, 64)
        check_integer("id_bits", self.id_bits, 4, 32)


@dataclass(frozen=True, eq=False)
class TrackerTables:
    """The tracker's constants: integer words and the floats they were rounded from.

    Arrays are indexed by age ``a = 0 ... age_max`` (entry 0 unused) and, for the
    gates, by misses ``m = 0 ... miss_columns - 1``.

    Attributes
    ----------
    config : TrackerConfig
    age_max : int
        The age (updates, the initiating plot included) saturates here.
    unfold_age : int
        Least age after an update at which a track may unfold its Doppler
        (``age_max + 1``: never).
    miss_columns : int
        ``max(misses_max, window_max)``; the miss index saturates at the last.
    alpha, beta : ndarray of int64, shape (age_max + 1, miss_columns)
        Gain words (``GAIN_FRAC``) of the update of a track of age ``a`` after
        ``m`` misses; ``beta`` is per CPI.
    gate : ndarray of int64, shape (age_max + 1, miss_columns)
        Range gate half-widths, range-state units.
    gate_mant, gate_shift : ndarray of int64
        ``2**DIST_FRAC / gate`` as scaled constants (``SCALE_BITS``).
    doppler_gate : int
        Doppler gate half-width, Doppler LSBs.
    doppler_recip : (int, int)
        ``2**DIST_FRAC / doppler_gate`` as a scaled constant.
    doppler_gain : int
        Gain word (``GAIN_FRAC``) of the Doppler rate.
    to_rate, to_doppler, coupling : (int, int)
        Scaled constants: rate-state units per Doppler LSB (negative), Doppler
        LSBs per rate-state unit (negative), range correction in range-state units
        per Doppler LSB (signed by the sweep; ``(0, 0)`` without).
    period_bits : int
        ``log2(M) + 8``: the Doppler period ``M * 256 = 2**period_bits`` LSBs.
    doppler_zero : int
        ``M * 128``, the Doppler position of zero Doppler.
    range_max : int
        Largest range state, ``(2**range_pos_bits - 1) << (STATE_FRAC - POSITION_FRAC)``.
    rate_bits, rate_limit : int
        Width of the signed rate state; it saturates at ``±rate_limit``.
    alpha_f, beta_f, gate_f, doppler_gain_f, to_rate_f, to_doppler_f, coupling_f, doppler_gate_f
        The unquantised values (same units) for the ideal tracker.
    rate_sigma : ndarray of float
        Posterior rate standard deviation by age (no misses), cells per CPI.
    """
    config: TrackerConfig
    age_max: int
    unfold_age: int
    miss_columns: int
    alpha: np.ndarray
    beta: np.ndarray
    gate: np.ndarray
    gate_mant: np.ndarray
    gate_shift: np.ndarray
    doppler_gate: int
    doppler_recip: tuple
    doppler_gain: int
    to_rate: tuple
    to_doppler: tuple
    coupling: tuple
    period_bits: int
    doppler_zero: int
    range_max: int
    rate_bits: int
    rate_limit: int
    alpha_f: np.ndarray
    beta_f: np.ndarray
    gate_f: np.ndarray
    doppler_gain_f: float
    to_rate_f: float
    to_doppler_f: float
    coupling_f: float
    doppler_gate_f: float
    rate_sigma: np.ndarray = field(repr=False)

    @property
    def unfolds(self):
        """Whether any age reaches ``unfold_age``."""
        return self.unfold_age <= self.age_max

    @property
    def widths(self):
        """Bits of the tracker's registers and table words (``"s"``: signed).

        ``range`` (unsigned range state), ``rate`` (s), ``innovation`` (s, a range
        difference before gating, coupling included), ``doppler`` (s, a folded
        Doppler ``x``), ``unfolded_doppler`` (s, ``xp`` and ``xu``), ``gain`` (unsigned
        gain words), ``gate`` (unsigned gate words), ``key`` (unsigned sort key),
        ``age``, ``misses``, ``window`` (unsigned counters), ``track_id``.
        """
        cfg = self.config
        range_bits = cfg.range_pos_bits + STATE_FRAC - POSITION_FRAC
        largest_xp = math.ceil(self.rate_limit * abs(self.to_doppler_f)) + 1
        return {
            "range": range_bits, "rate": self.rate_bits, "innovation": range_bits + 2,
            "doppler": self.period_bits,
            "unfolded_doppler": (largest_xp + (1 << self.period_bits)).bit_length() + 1,
            "gain": GAIN_FRAC + 1, "gate": int(self.gate.max()).bit_length(),
            "key": (TENTATIVE_OFFSET + 2 * (1 << DIST_FRAC) + 2).bit_length(),
            "age": self.age_max.bit_length(),
            "misses": max(cfg.misses_max, cfg.window_max).bit_length(),
            "window": cfg.window_max.bit_length(), "track_id": cfg.id_bits,
        }


def _kalman_sequence(config, max_rate):
    """Gains and gates (cells) by (age, misses), posterior rate deviations by age, for
    ages 0 ... AGE_LIMIT (row 0 unused)."""
    r_var = config.range_sigma_cells ** 2
    q = (config.tracking_index * config.range_sigma_cells) ** 2 * np.array([[0.25, 0.5], [0.5, 1.0]])
    f = np.array([[1.0, 1.0], [0.0, 1.0]])
    shape = (AGE_LIMIT + 1, max(config.misses_max, config.window_max))
    alpha, beta, gate = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    rate_sigma = np.zeros(AGE_LIMIT + 1)
    post = np.diag([r_var, (max_rate / config.gate_sigmas) ** 2])
    for age in range(1, AGE_LIMIT + 1):
        rate_sigma[age] = math.sqrt(post[1, 1])
        pred, after = post, None
        for m in range(shape[1]):
            pred = f @ pred @ f.T + q
            innovation = pred[0, 0] + r_var
            alpha[age, m], beta[age, m] = pred[:, 0] / innovation
            gate[age, m] = config.gate_sigmas * math.sqrt(innovation)
            if m == 0:
                after = pred - np.outer(pred[:, 0], pred[0]) / innovation
        post = after
    return alpha, beta, rate_sigma, gate


def _frozen(array):
    array.setflags(write=False)
    return array


@lru_cache(maxsize=32)
def tracker_tables(config):
    """Derive the tracker's constants (:class:`TrackerTables`) from ``config``."""
    if not isinstance(config, TrackerConfig):
        raise TypeError(f"config must be a TrackerConfig, not {config!r}")
    radar = config.radar
    unit = 1 << STATE_FRAC
    max_rate = config.max_speed_mps / radar.rate_scale_mps
    alpha, beta, rate_sigma, gate = _kalman_sequence(config, max_rate)
    steady = [round(g * (1 << GAIN_FRAC)) for g in kalata_gains(config.tracking_index)]
    quant_a, quant_b = np.round(alpha * (1 << GAIN_FRAC)), np.round(beta * (1 << GAIN_FRAC))
    converged = np.flatnonzero((quant_a[:, 0] == steady[0]) & (quant_b[:, 0] == steady[1]))
    converged = int(converged[0]) if converged.size else AGE_LIMIT
    unfold = np.flatnonzero(config.unfold_sigmas * rate_sigma[1:] <= radar.unambiguous_rate)
    unfold_age = int(unfold[0]) + 1 if unfold.size else None
    age_max = min(AGE_LIMIT, max(converged, unfold_age or 0, 2))
    if unfold_age is None or unfold_age > age_max:
        unfold_age = age_max + 1
    ages = slice(0, age_max + 1)
    gate_f = gate[ages] * unit
    gate_words = np.round(gate_f).astype(np.int64)
    recips = [[scale_word((1 << DIST_FRAC) / max(int(g), 1)) for g in row] for row in gate_words]
    doppler_gate_f = config.doppler_gate_bins * 256
    doppler_gate = max(1, round(doppler_gate_f))
    rate_bits = STATE_FRAC + 1 + math.ceil(2 * max_rate + 1).bit_length()
    return TrackerTables(
        config=config, age_max=age_max, unfold_age=unfold_age,
        miss_columns=gate.shape[1],
        alpha=_frozen(quant_a[ages].astype(np.int64)), beta=_frozen(quant_b[ages].astype(np.int64)),
        gate=_frozen(gate_words),
        gate_mant=_frozen(np.array([[w for w, _ in row] for row in recips], dtype=np.int64)),
        gate_shift=_frozen(np.array([[s for _, s in row] for row in recips], dtype=np.int64)),
        doppler_gate=doppler_gate, doppler_recip=scale_word((1 << DIST_FRAC) / doppler_gate),
        doppler_gain=round(config.doppler_gain * (1 << GAIN_FRAC)),
        to_rate=scale_word(radar.rate_per_doppler_lsb * unit),
        to_doppler=scale_word(1 / (radar.rate_per_doppler_lsb * unit)),
        coupling=scale_word(radar.coupling_per_doppler_lsb * unit),
        period_bits=radar.pulses.bit_length() - 1 + 8, doppler_zero=radar.pulses * 128,
        range_max=((1 << config.range_pos_bits) - 1) << (STATE_FRAC - POSITION_FRAC),
        rate_bits=rate_bits, rate_limit=(1 << (rate_bits - 1)) - 1,
        alpha_f=_frozen(alpha[ages].copy()), beta_f=_frozen(beta[ages].copy()),
        gate_f=_frozen(gate_f), doppler_gain_f=config.doppler_gain,
        to_rate_f=radar.rate_per_doppler_lsb * unit,
        to_doppler_f=1 / (radar.rate_per_doppler_lsb * unit),
        coupling_f=radar.coupling_per_doppler_lsb * unit, doppler_gate_f=doppler_gate_f,
        rate_sigma=_frozen(rate_sigma[ages].copy()))
