"""The model of a board's reports: what the echo source plays, through the model chain."""

import numpy as np

from amaradar.boards.top import STATUS_FLAGS
from amaradar.sim.chain import reference_chain
from amaradar.sim.models.waveform.echo_source import echo_lines
from amaradar.sim.tracking import plot_frames, reference_tracks, tracker_config
from amaradar.spec.link import Detection, Plot, Track
from amaradar.spec.records import DOPPLER_STATUS_FLAGS


def reference_cpis(config, preset, cpis, played=(0,)):
    """Reports of the first ``cpis`` CPIs of a board (detections, or plots of a
    range-Doppler chain) and the flags of the models (``BoardCore.flags``); CPI
    ``k`` plays preset ``played[k]`` (the last one on)."""
    M = config.pulses_per_cpi
    iq, overflow, _ = echo_lines(
        pulse=np.array(preset.pulse), pulse_width=preset.pulse_width,
        line_length=config.line_length, pulses_per_cpi=M,
        targets=preset.tables[played[0]], noise_scale=preset.noise_scale, seed=preset.seed,
        lines=cpis * M, width=config.adc_width, full_output=True,
        switches=[(cpi * M, preset.tables[played[cpi]]) for cpi in range(1, len(played))
                  if played[cpi] != played[cpi - 1]])
    result = reference_chain(config, iq)
    flags = {**result.status, "echo_overflow": bool(overflow.any())}
    if config.doppler:
        flags.update({name: any(flags[source] for source in sources)
                      for name, sources in DOPPLER_STATUS_FLAGS.items()})
    report = Plot if config.doppler else Detection
    d = result.detections
    reports = [report(*(int(d[name][n]) for name in report._fields)) for n in range(len(d["cpi"]))]
    return reports, sum(flags[name] << bit for bit, name in enumerate(STATUS_FLAGS))


def reference_board_tracks(board, plots, cpis):
    """The track reports of ``board``'s tracker (none without one) on ``plots`` (``Plot``
    tuples) of its first ``cpis`` CPIs."""
    tracking = board.parsed.tracker
    if tracking is None:
        return []
    columns = {name: [getattr(p, name) for p in plots] for name in Plot._fields}
    t = reference_tracks(tracker_config(board.parsed.radar, tracking), tracking.runtime(),
                         plot_frames(columns, cpis)).tracks
    return [Track(*(int(t[name][n]) for name in Track._fields)) for n in range(len(t["cpi"]))]
