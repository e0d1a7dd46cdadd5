"""The tracker of a range-Doppler scenario: its configuration and its bit-exact run.

:func:`tracker_config` turns a scenario's radar and ``[tracker]`` section into the
tracker's elaboration parameters (``amaradar.hdl.track.tables.TrackerConfig``);
:func:`plot_frames` cuts a chain's plots into the tracker's CPIs; and
:func:`reference_tracks` runs the bit-exact model
(:class:`amaradar.sim.models.track.tracker.TrackerModel`) over them
(:class:`ReferenceTracker`: block by block of CPIs).
"""

from dataclasses import dataclass

import numpy as np

from ..hdl.track.tables import TrackerConfig
from ..spec.records import CPI_WIDTH, POSITION_FRAC
from .models.track.tracker import TRACK_DTYPE, TrackerModel, tracker_radar
from .world.track_metrics import PLOT_DTYPE

__all__ = ["TrackResult", "tracker_config", "plot_frames", "ReferenceTracker", "reference_tracks"]


@dataclass
class TrackResult:
    """Track reports (dict of int64 arrays, :data:`TRACK_DTYPE`'s fields) and the
    tracker's status (flags and counters, by name)."""
    tracks: dict
    status: dict


def tracker_config(radar, tracking):
    """``TrackerConfig`` for a scenario's ``radar`` and its ``Tracking`` section: plot
    ranges as wide as the chain's (range bits of a line plus ``POSITION_FRAC``)."""
    range_bits = max(1, (radar.line_samples - 1).bit_length())
    return TrackerConfig(radar=tracker_radar(radar), range_pos_bits=range_bits + POSITION_FRAC,
                         **tracking.elaboration())


def plot_frames(plots, cpis, first_cpi=0):
    """The plots of each of ``cpis`` CPIs from CPI ``first_cpi`` (``PLOT_DTYPE`` arrays, in
    arrival order), from a chain's plots of those CPIs (dict of arrays, CPI counters
    modulo ``2**CPI_WIDTH``, in order)."""
    words = np.zeros(len(plots["cpi"]), dtype=PLOT_DTYPE)
    for name in PLOT_DTYPE.names:
        words[name] = plots[name]
    cpi = np.arange(first_cpi, first_cpi + cpis) % (1 << CPI_WIDTH)
    bounds = np.flatnonzero(np.diff(words["cpi"]) != 0) + 1
    by_cpi = {int(part["cpi"][0]): part for part in np.split(words, bounds) if len(part)}
    return [by_cpi.get(int(k), words[:0]) for k in cpi]


def tracker_status(status):
    """The tracker's status as a dict: its flags, then its counters."""
    return {**status.flags, "plots_dropped": status.plots_dropped,
            "initiations_dropped": status.initiations_dropped,
            "tracks_started": status.tracks_started}


class ReferenceTracker:
    """The bit-exact tracker model (``config``: ``TrackerConfig``; ``runtime``: its
    run-time settings by name) fed block by block of CPIs: its tracks carry from one
    block to the next, so the blocks give what the whole run gives at once."""

    def __init__(self, config, runtime):
        self.model = TrackerModel(config, **runtime)
        self._reports = []

    def step(self, frames, first_cpi=0):
        """Take ``frames`` (one plot array per CPI), the CPIs from ``first_cpi`` on."""
        self._reports.append(self.model.run(frames, first_cpi=first_cpi))

    def result(self):
        """The :class:`TrackResult` of every CPI taken so far."""
        reports = np.concatenate(self._reports) if self._reports else \
            np.zeros(0, dtype=self.model.report_dtype)
        return TrackResult({name: reports[name] for name in TRACK_DTYPE.names},
                           tracker_status(self.model.status()))


def reference_tracks(config, runtime, frames):
    """Run the bit-exact tracker model (``config``: ``TrackerConfig``; ``runtime``: its
    run-time settings by name) over ``frames`` (one plot array per CPI)."""
    tracker = ReferenceTracker(config, runtime)
    tracker.step(frames)
    return tracker.result()
