"""The ideal float tracker: the logic of the bit-exact model without its roundings.

Against it the numerical loss of :class:`~amaradar.sim.models.track.tracker.TrackerModel`
is measured: same plots, same steps, same decision rules, but every number a
float64 and every constant the unrounded value it was derived from.
"""

import numpy as np

from ....hdl.track.tables import DIST_FRAC, STATE_FRAC
from ....spec.records import POSITION_FRAC
from .tracker import TRACK_FIELDS, TrackerModel

__all__ = ["IDEAL_TRACK_DTYPE", "IdealTracker"]

#: The fields of :data:`~amaradar.sim.models.track.tracker.TRACK_DTYPE`, in the same
#: units, with ``range_pos`` (1/256 cell) and ``range_rate`` (2**-16 cell per CPI)
#: as unrounded float64.
IDEAL_TRACK_DTYPE = np.dtype([(name, np.float64 if name in ("range_pos", "range_rate") else np.int64)
                              for name in TRACK_FIELDS])


class IdealTracker(TrackerModel):
    """Float twin of :class:`~amaradar.sim.models.track.tracker.TrackerModel`.

    Parameters are those of ``TrackerModel``; ``step`` and ``run`` return
    :data:`IDEAL_TRACK_DTYPE` reports.

    The state is float64 in the model's units (2**-16 cell, 2**-16 cell per
    CPI). It differs from the bit-exact model only in its arithmetic:

    * gains ``alpha``, ``beta``, the Doppler gain: the float Kalman sequence
      (``tables.alpha_f``, ``beta_f``) and ``config.doppler_gain``, not their
      ``GAIN_FRAC``-bit words; products are not rounded;
    * gates ``tables.gate_f`` and ``doppler_gate_f``, distances ``|e| / gate``
      exactly (scaled by ``2**DIST_FRAC``) instead of by reciprocal mantissas;
    * Doppler rate, predicted Doppler and coupling correction: the exact
      constants, no rounding; the period index rounds ``(xp - x) / (M * 256)`` to
      the nearest integer (half to even);
    * the reported range is ``r / 256``, not rounded.

    The age, miss, confirmation, deletion, association (:func:`associate`),
    initiation and unfolding rules are the model's own code.
    """

    report_dtype = IDEAL_TRACK_DTYPE
    _state_type = np.float64

    def _load_constants(self):
        t = self.tables
        self.alpha, self.beta, self.gate = t.alpha_f, t.beta_f, t.gate_f
        self.doppler_gate, self.doppler_gain = t.doppler_gate_f, t.doppler_gain_f
        self.to_rate, self.to_doppler, self.coupling = t.to_rate_f, t.to_doppler_f, t.coupling_f

    def _measure(self, plots):
        z = plots["range_pos"].astype(np.float64) * 2.0 ** (STATE_FRAC - POSITION_FRAC)
        return z, plots["doppler_pos"].astype(np.float64) - self.tables.doppler_zero

    @staticmethod
    def _gain(gain, value):
        return np.asarray(gain) * value

    @staticmethod
    def _scale(value, constant):
        return np.asarray(value, dtype=np.float64) * constant

    def _nearest_period(self, difference):
        period = 2.0 ** self.tables.period_bits
        return np.round(difference / period) * period

    def _distance(self, innovation, age, miss):
        return np.abs(innovation) / self.gate[age, miss][:, None] * 2.0 ** DIST_FRAC

    def _doppler_distance(self, dx):
        return np.abs(dx) / self.doppler_gate * 2.0 ** DIST_FRAC

    @staticmethod
    def _half(gate):
        return gate / 2

    @staticmethod
    def _report_range(r):
        return r / 2.0 ** (STATE_FRAC - POSITION_FRAC)
