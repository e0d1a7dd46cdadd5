"""Multi-target tracker: the bit-exact integer model of the future ``hdl.track`` gateware.

The tracker takes the plots of each CPI (``amaradar.spec.records.PLOT``) and keeps
up to ``max_tracks`` alpha-beta tracks in range and range rate: it predicts,
gates in range and Doppler, associates by global nearest neighbour, updates
with gains from a table by track age (and misses), confirms by M-of-N, coasts
and deletes, unfolds the Doppler of a settled track and from then on measures its
rate by Doppler and corrects its range for the LFM's range-Doppler coupling. Every number is an integer of a width stated in
:mod:`amaradar.hdl.track.tables`, with the constants derived there; the ideal
float twin is :class:`amaradar.sim.models.track.ideal_tracker.IdealTracker`.
"""

from dataclasses import dataclass

import numpy as np

from ....hdl.track.tables import (GAIN_FRAC, STATE_FRAC, STATUS_COASTING, STATUS_CONFIRMED,
                                  STATUS_TENTATIVE, TENTATIVE_OFFSET, TRACKER_FLAGS, TrackerConfig,
                                  TrackerRadar, tracker_tables)
from ....spec.checks import check_integer
from ....spec.records import CPI_WIDTH, POSITION_FRAC, TRACK, field_names
from ..numerics import shift_right

__all__ = ["TRACK_FIELDS", "TRACK_DTYPE", "TrackerStatus", "TrackerModel", "associate",
           "tracker_radar"]

TRACK_FIELDS = field_names(TRACK)
#: One report per live track per CPI (all fields int64):
#:
#: ``cpi``         CPI counter, modulo ``2**CPI_WIDTH``;
#: ``track_id``    unique within a run, from 0 in order of initiation;
#: ``status``      0 tentative, 1 confirmed (updated this CPI), 2 coasting (confirmed, missed);
#: ``range_pos``   range after this CPI's update (or prediction), 1/256 cell, unsigned,
#:                 the plots' cell convention, corrected for range-Doppler coupling once
#:                 unfolded;
#: ``range_rate``  2**-STATE_FRAC cell per CPI, signed, unambiguous (negative: closing);
#: ``unfolded``    1 once the rate comes from the unfolded Doppler;
#: ``age``         updates so far, the initiating plot included (saturates at ``age_max``);
#: ``misses``      consecutive CPIs without a plot;
#: ``plot``        1 + index of this CPI's plot that updated (or started) the track, 0 if none.
TRACK_DTYPE = np.dtype([(name, np.int64) for name in TRACK_FIELDS])


def tracker_radar(radar):
    """The :class:`TrackerRadar` of a scenario's ``Radar`` (``amaradar.sim.world.scenario``).

    The project's LFM sweeps up (``transmit_pulse_ideal``); a Barker code has no
    range-Doppler coupling.
    """
    lfm = radar.waveform == "lfm"
    return TrackerRadar(range_cell_m=radar.range_bin_m, cpi_s=radar.pri_s * radar.pulses_per_cpi,
                        pulses=radar.pulses_per_cpi,
                        unambiguous_velocity_mps=radar.unambiguous_velocity_mps,
                        sweep="up" if lfm else None,
                        pulse_width_s=radar.pulse_width_s if lfm else None,
                        bandwidth_hz=radar.bandwidth_hz if lfm else None)


def associate(gated, key):
    """Global nearest neighbour, greedy: the gated pairs by increasing ``(key, row, column)``.

    A pair is taken when neither its row (track) nor its column (plot) has been
    taken; so each track gets at most one plot and each plot at most one track,
    and ties of the key go to the lower row (track slot), then the lower column
    (plot index).

    Parameters
    ----------
    gated : ndarray of bool, shape (tracks, plots)
    key : ndarray, shape (tracks, plots)
        Sort key of each pair (only gated pairs are looked at).

    Returns
    -------
    rows, cols : ndarray of int64
        The pairs taken, in the order taken.
    """
    rows, cols = np.nonzero(gated)
    order = np.lexsort((cols, rows, key[rows, cols]))
    row_free = np.ones(gated.shape[0], dtype=bool)
    col_free = np.ones(gated.shape[1], dtype=bool)
    taken = []
    for i in order:
        r, c = rows[i], cols[i]
        if row_free[r] and col_free[c]:
            row_free[r] = col_free[c] = False
            taken.append(i)
    taken = np.asarray(taken, dtype=np.int64)
    return rows[taken].astype(np.int64), cols[taken].astype(np.int64)


@dataclass(frozen=True)
class TrackerStatus:
    """The tracker's status: sticky flags and counters since reset.

    Attributes
    ----------
    flags : dict of str to bool
        Each of ``TRACKER_FLAGS``: ``plot_overflow`` (a CPI had more than
        ``max_plots`` plots), ``track_overflow`` (a plot found no free slot),
        ``id_exhausted`` (all ``2**id_bits`` ids used), ``range_saturated`` (a range
        left ``[0, range_max]``), ``rate_saturated`` (a rate left ``±rate_limit``).
    plots_dropped : int
        Plots beyond ``max_plots`` in a CPI.
    initiations_dropped : int
        Plots that would have started a track but found no slot or no id.
    tracks_started : int
        Ids given out (the next id).
    """
    flags: dict
    plots_dropped: int
    initiations_dropped: int
    tracks_started: int

    @property
    def flag_word(self):
        """The flags as an integer, ``TRACKER_FLAGS`` LSB first."""
        return sum(1 << i for i, name in enumerate(TRACKER_FLAGS) if self.flags[name])


class TrackerModel:
    """Bit-exact model of the multi-target tracker, one CPI at a time.

    Parameters
    ----------
    config : TrackerConfig
        Elaboration parameters (``amaradar.hdl.track.tables``).
    confirm_m, confirm_n : int
        Run-time M-of-N: a tentative track is confirmed once ``M`` of its first
        ``N`` CPIs (the initiating one included) had a plot; ``1 <= M <= N <=
        window_max``.
    delete_k : int
        Run-time: a confirmed track is deleted after ``K`` consecutive misses,
        ``1 <= K <= misses_max``.
    unfold : bool
        Run-time: unfold the Doppler of settled tracks (else range only).
    correct_coupling : bool
        Run-time: correct the measured range of unfolded tracks for the
        range-Doppler coupling.

    Members
    -------
    tables : TrackerTables
    status() : TrackerStatus

    Notes
    -----
    **State per slot** (``s = 0 ... T-1``): live, track id (``id_bits``), status
    (2 bits), range ``r`` (unsigned, ``range_pos_bits + 8`` bits, 2**-16 cell),
    rate ``v`` (signed, ``rate_bits``, 2**-16 cell per CPI), the folded Doppler of
    its last plot ``xl`` (``period_bits``), age (to ``age_max``), consecutive
    misses, CPIs and hits of the confirmation window, unfolded (1 bit).

    **Each CPI**, with the plots in arrival order ``p = 0 ... P-1`` (the first
    ``max_plots``; more are dropped, counted and flagged), measured range
    ``z_p = range_pos << 8`` and folded Doppler ``x_p = doppler_pos - M*128``:

    1. *Predict* every live track: ``r = sat(r + v)`` (``sat``: clamp to
       ``[0, range_max]``, flag ``range_saturated``).
    2. *Gate* every pair (track ``s``, plot ``p``) with ``g = gate[age, min(misses,
       miss_columns-1)]``. For an unfolded track, the Doppler the rate predicts is
       ``xp = (v * to_doppler)`` and the plot's Doppler is unfolded next to it,
       ``xu = x_p + (((xp - x_p) >> period_bits) << period_bits)``, ``dx = xu - xp``
       (``|dx| <= M*128``); its rate ``rd = xu * to_rate``, coupling correction
       ``c = xu * coupling`` (0 when ``correct_coupling`` is off); innovation
       ``e = z_p + c - r``. A folded track has ``e = z_p - r`` and compares the
       folded Doppler with its last plot's: ``dx = (x_p - xl)`` wrapped into
       ``[-M*128, M*128]`` (minus its nearest multiple of ``2**period_bits``, half
       to even): a target's folded Doppler hardly changes from CPI to CPI, a false
       plot's is uniform. Gated iff ``|e| <= g`` and ``|dx| <= doppler_gate``.
       Distance ``d = ((|e| * gate_mant) >> gate_shift) +
       ((|dx| * doppler_mant) >> doppler_shift)`` (each truncated; ``2**DIST_FRAC``
       on a gate's edge).
    3. *Associate* (:func:`associate`): the gated pairs sorted by the key
       ``d + TENTATIVE_OFFSET * tentative`` (confirmed and coasting tracks first),
       then slot, then plot; greedily each track and each plot at most once.
    4. *Update* each associated track, with the gains of its age and misses
       before the update, ``A = alpha[age, m]``, ``B = beta[age, m]``
       (``m = min(misses, miss_columns-1)``): ``r = sat(r + A * e)``; folded:
       ``v = v + B * e``; unfolded: ``v = v + doppler_gain * (rd - v)``; ``v``
       saturates at ``±rate_limit`` (flag ``rate_saturated``);
       ``age = a = min(age + 1, age_max)``. A folded track *unfolds* at this update if
       ``unfold`` is on, it was confirmed or coasting before this CPI,
       ``a >= unfold_age`` and ``|e| <= g >> 1`` (inside half its gate): its new ``v``
       gives ``xu``, ``rd``, ``c`` as in step 2 and then ``v = rd``, ``r = sat(r + c)``
       (its range so far came from uncorrected plots), unfolded = 1. Every
       associated track keeps ``xl = x_p``.
    5. *Book-keeping*: misses = 0 on a hit, else + 1. A tentative track counts the
       CPI and the hit; it is confirmed when hits ``>= M``, deleted when
       ``hits + N - CPIs < M`` (it can no longer reach M). A confirmed track is
       confirmed on a hit, coasting on a miss, deleted at ``K`` misses.
    6. *Initiate*: each unassociated plot, in order, that lies in no gate of a
       track confirmed or coasting before this CPI starts a tentative track
       (confirmed at once if ``M = 1``) in the lowest free slot: ``r = z_p``,
       ``v = 0``, ``xl = x_p``, age 1, one CPI, one hit, the next id. No free slot: counted,
       ``track_overflow``; no id left: counted, ``id_exhausted``.
    7. *Report* every live track, by slot (:data:`TRACK_DTYPE`).

    **Bit growth** (``tables.widths``): the innovation ``e`` is two bits wider
    than the range state (sign, coupling correction); a gain product ``A * e`` has
    ``GAIN_FRAC + 1 + widths["innovation"]`` bits before its shift; ``v * to_doppler``
    ``rate_bits + SCALE_BITS``; ``xu * to_rate`` and ``xu * coupling``
    ``widths["unfolded_doppler"] + SCALE_BITS``; ``|e| * gate_mant``
    ``widths["innovation"] + SCALE_BITS``; the sort key ``widths["key"]``. With
    ``range_pos_bits <= 32`` all of them fit the model's int64.

    **Rounding/overflow**: every product ``x * (word, shift)`` and every gain
    product (shift ``GAIN_FRAC``) is shifted right rounding half to even; the
    period index ``(xp - x_p) >> period_bits`` rounds half to even; distances
    truncate; the report's ``range_pos = r >> 8`` rounds half to even (it cannot
    overflow: ``r <= range_max``). Range and rate saturate with sticky flags;
    nothing wraps. The Doppler scales and the coupling are scaled constants of
    ``SCALE_BITS`` mantissas, so the rate of an unfolded Doppler ``xu`` is within
    ``|xu| * 2**-SCALE_BITS`` relative of the exact value.

    **Work per CPI** (for the gateware): ``T * P`` pair evaluations (3 to 5
    constant multiplications each), a sort of the gated pairs, at most
    ``min(T, P)`` updates, ``P`` initiation tests and ``T`` reports.

    **Not modelled**: acceleration (constant-velocity model). A wrongly unfolded
    track (probability set by ``unfold_sigmas``) drifts out of its gate, coasts and
    is deleted; its target starts a new track.
    """

    report_dtype = TRACK_DTYPE

    def __init__(self, config, *, confirm_m=3, confirm_n=5, delete_k=3, unfold=True,
                 correct_coupling=True):
        if not isinstance(config, TrackerConfig):
            raise TypeError(f"config must be a TrackerConfig, not {config!r}")
        self.config, self.tables = config, tracker_tables(config)
        self.confirm_n = check_integer("confirm_n", confirm_n, 1, config.window_max)
        self.confirm_m = check_integer("confirm_m", confirm_m, 1, self.confirm_n)
        self.delete_k = check_integer("delete_k", delete_k, 1, config.misses_max)
        for name, value in (("unfold", unfold), ("correct_coupling", correct_coupling)):
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be a bool, not {value!r}")
        self.unfold, self.correct_coupling = unfold, correct_coupling
        self._load_constants()
        t = config.max_tracks
        self.live = np.zeros(t, dtype=bool)
        self.r, self.v, self.last_doppler = (np.zeros(t, dtype=self._state_type) for _ in range(3))
        self.track_id, self.track_status, self.age, self.misses, self.window, self.hits, \
            self.unfolded = (np.zeros(t, dtype=np.int64) for _ in range(7))
        self.next_id, self.cpi = 0, 0
        self.flags = dict.fromkeys(TRACKER_FLAGS, False)
        self.plots_dropped = self.initiations_dropped = 0

    # ------------------------------------------------------------ arithmetic
    # The only methods the ideal tracker replaces: the same steps in float.

    _state_type = np.int64

    def _load_constants(self):
        t = self.tables
        self.alpha, self.beta, self.gate = t.alpha, t.beta, t.gate
        self.doppler_gate, self.doppler_gain = t.doppler_gate, t.doppler_gain
        self.to_rate, self.to_doppler, self.coupling = t.to_rate, t.to_doppler, t.coupling

    def _measure(self, plots):
        """Plot range in range-state units and folded Doppler in Doppler LSBs."""
        z = plots["range_pos"].astype(np.int64) << (STATE_FRAC - POSITION_FRAC)
        return z, plots["doppler_pos"].astype(np.int64) - self.tables.doppler_zero

    @staticmethod
    def _gain(word, value):
        return shift_right(np.asarray(word, dtype=np.int64) * value, GAIN_FRAC, "half_even")

    @staticmethod
    def _scale(value, constant):
        word, shift = constant
        return shift_right(np.asarray(value, dtype=np.int64) * word, shift, "half_even")

    def _nearest_period(self, difference):
        """The multiple of the Doppler period nearest ``difference``."""
        bits = self.tables.period_bits
        return shift_right(difference, bits, "half_even") << bits

    def _distance(self, innovation, age, miss):
        t = self.tables
        return (np.abs(innovation) * t.gate_mant[age, miss][:, None]) >> t.gate_shift[age, miss][:, None]

    def _doppler_distance(self, dx):
        word, shift = self.tables.doppler_recip
        return (np.abs(dx) * word) >> shift

    @staticmethod
    def _half(gate):
        return gate >> 1

    @staticmethod
    def _report_range(r):
        return shift_right(r, STATE_FRAC - POSITION_FRAC, "half_even")

    # ------------------------------------------------------------ the algorithm

    def status(self):
        """A snapshot of the flags and counters (:class:`TrackerStatus`)."""
        return TrackerStatus(dict(self.flags), self.plots_dropped, self.initiations_dropped,
                             self.next_id)

    def _take(self, plots):
        """Check the plots of one CPI and keep the first ``max_plots``."""
        plots = np.asarray(plots)
        if plots.dtype.names is None or not {"range_pos", "doppler_pos"} <= set(plots.dtype.names):
            raise TypeError("plots must be a structured array with range_pos and doppler_pos fields")
        plots = plots.reshape(-1)
        cfg, t = self.config, self.tables
        if plots.size and not (0 <= plots["range_pos"].min() and
                               plots["range_pos"].max() < 1 << cfg.range_pos_bits):
            raise ValueError(f"range_pos must be in [0, 2**{cfg.range_pos_bits})")
        if plots.size and not (0 <= plots["doppler_pos"].min() and
                               plots["doppler_pos"].max() < 2 * t.doppler_zero):
            raise ValueError(f"doppler_pos must be in [0, {2 * t.doppler_zero})")
        if plots.size > cfg.max_plots:
            self.plots_dropped += plots.size - cfg.max_plots
            self.flags["plot_overflow"] = True
            plots = plots[:cfg.max_plots]
        return plots

    def _saturate(self, value, low, high, flag):
        out = np.clip(value, low, high)
        if np.any(out != value):
            self.flags[flag] = True
        return out

    def _sat_range(self, r):
        return self._saturate(r, 0, self.tables.range_max, "range_saturated")

    def _sat_rate(self, v):
        limit = self.tables.rate_limit
        return self._saturate(v, -limit, limit, "rate_saturated")

    def _doppler(self, v, x):
        """``(dx, rd, c)``: Doppler innovation, rate and range correction of the Doppler
        ``x`` unfolded next to the Doppler of the rate ``v`` (broadcast)."""
        predicted = self._scale(v, self.to_doppler)
        unfolded = x + self._nearest_period(predicted - x)
        correction = self._scale(unfolded, self.coupling) if self.correct_coupling else \
            np.zeros_like(unfolded)
        return unfolded - predicted, self._scale(unfolded, self.to_rate), correction

    def step(self, plots, cpi=None):
        """Run one CPI: the plots of CPI ``cpi`` (default: the CPI after the last one).

        Parameters
        ----------
        plots : ndarray with fields ``range_pos`` and ``doppler_pos`` (e.g. PLOT records)
            In arrival order; the other fields are ignored.
        cpi : int, optional

        Returns
        -------
        reports : ndarray of ``report_dtype``
            One per live track after this CPI, by slot.
        """
        plots = self._take(plots)
        cpi = self.cpi if cpi is None else check_integer("cpi", cpi, 0)
        self.cpi = cpi + 1
        t = self.tables
        z, x = self._measure(plots)
        slots = np.flatnonzero(self.live)
        before = self.track_status[slots].copy()
        self.r[slots] = self._sat_range(self.r[slots] + self.v[slots])            # 1 predict
        age = self.age[slots]
        miss = np.minimum(self.misses[slots], t.miss_columns - 1)
        gate = self.gate[age, miss]                                                 # 2 gate
        unfolded = self.unfolded[slots][:, None] == 1
        dx, rate, correction = self._doppler(self.v[slots][:, None], x[None, :])
        change = x[None, :] - self.last_doppler[slots][:, None]
        dx = np.where(unfolded, dx, change - self._nearest_period(change))
        innovation = z[None, :] + np.where(unfolded, correction, 0) - self.r[slots][:, None]
        gated = (np.abs(innovation) <= gate[:, None]) & (np.abs(dx) <= self.doppler_gate)
        distance = self._distance(innovation, age, miss) + self._doppler_distance(dx)
        key = distance + TENTATIVE_OFFSET * (before == STATUS_TENTATIVE)[:, None]
        rows, cols = associate(gated, key)                                          # 3 associate
        self._update(slots[rows], miss[rows], innovation[rows, cols], rate[rows, cols],  # 4 update
                     x[cols], gate[rows], before[rows] != STATUS_TENTATIVE)
        hit = np.zeros(slots.size, dtype=bool)
        hit[rows] = True
        self._book_keep(slots, hit)                                                 # 5
        plot_of = np.zeros(self.config.max_tracks, dtype=np.int64)
        plot_of[slots[rows]] = cols + 1
        free = np.ones(plots.size, dtype=bool)                                      # 6 initiate
        free[cols] = False
        free &= ~gated[before != STATUS_TENTATIVE].any(axis=0)
        for p in np.flatnonzero(free):
            slot = self._initiate(z[p], x[p])
            if slot is not None:
                plot_of[slot] = p + 1
        return self._report(cpi, plot_of)                                           # 7 report

    def _update(self, slots, miss, innovation, rate, x, gate, confirmed):
        t = self.tables
        before = self.age[slots]
        age = np.minimum(before + 1, t.age_max)
        unfolded = self.unfolded[slots] == 1
        v = self.v[slots]
        r = self._sat_range(self.r[slots] + self._gain(self.alpha[before, miss], innovation))
        v = np.where(unfolded, v + self._gain(self.doppler_gain, rate - v),
                     v + self._gain(self.beta[before, miss], innovation))
        v = self._sat_rate(v)
        start = ~unfolded & confirmed & (age >= t.unfold_age) & \
            (np.abs(innovation) <= self._half(gate)) & self.unfold
        if start.any():
            _, rate_now, correction = self._doppler(v[start], x[start])
            v[start] = self._sat_rate(rate_now)
            r[start] = self._sat_range(r[start] + correction)
        self.r[slots], self.v[slots], self.age[slots] = r, v, age
        self.unfolded[slots] |= start
        self.last_doppler[slots] = x

    def _book_keep(self, slots, hit):
        tentative = self.track_status[slots] == STATUS_TENTATIVE
        misses = np.where(hit, 0, self.misses[slots] + 1)
        window = self.window[slots] + tentative
        hits = self.hits[slots] + (tentative & hit)
        confirm = tentative & (hits >= self.confirm_m)
        fail = tentative & ~confirm & (hits + self.confirm_n - window < self.confirm_m)
        lost = ~tentative & (misses >= self.delete_k)
        self.track_status[slots] = np.where(
            tentative & ~confirm, STATUS_TENTATIVE, np.where(hit, STATUS_CONFIRMED, STATUS_COASTING))
        self.misses[slots], self.window[slots], self.hits[slots] = misses, window, hits
        self.live[slots[fail | lost]] = False

    def _initiate(self, z, x):
        """Start a tentative track at range ``z``, Doppler ``x``; its slot, or None if dropped."""
        free = np.flatnonzero(~self.live)
        if self.next_id >= 1 << self.config.id_bits or not free.size:
            self.flags["id_exhausted" if free.size else "track_overflow"] = True
            self.initiations_dropped += 1
            return None
        s = free[0]
        self.live[s] = True
        self.track_id[s], self.next_id = self.next_id, self.next_id + 1
        self.track_status[s] = STATUS_CONFIRMED if self.confirm_m == 1 else STATUS_TENTATIVE
        self.r[s], self.v[s], self.last_doppler[s] = z, 0, x
        self.age[s] = self.window[s] = self.hits[s] = 1
        self.misses[s] = self.unfolded[s] = 0
        return s

    def _report(self, cpi, plot_of):
        slots = np.flatnonzero(self.live)
        out = np.zeros(slots.size, dtype=self.report_dtype)
        out["cpi"] = cpi % (1 << CPI_WIDTH)
        out["track_id"] = self.track_id[slots]
        out["status"] = self.track_status[slots]
        out["range_pos"] = self._report_range(self.r[slots])
        out["range_rate"] = self.v[slots]
        out["unfolded"] = self.unfolded[slots]
        out["age"] = self.age[slots]
        out["misses"] = self.misses[slots]
        out["plot"] = plot_of[slots]
        return out

    def run(self, frames, *, first_cpi=0):
        """Run CPI after CPI: ``frames[i]`` holds the plots of CPI ``first_cpi + i``.

        Returns
        -------
        reports : ndarray of ``report_dtype``
            Every CPI's reports, in order.
        """
        parts = [self.step(plots, first_cpi + i) for i, plots in enumerate(frames)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=self.report_dtype)
