"""Report-link byte streams of the built-in scenario, as a board running its range-Doppler
chain and tracker would send them: for tests of `amaradar listen`."""

from amaradar.host.sources import ScenarioSource
from amaradar.sim.chain import chain_config, reference_chain
from amaradar.sim.tracking import plot_frames, reference_tracks, tracker_config
from amaradar.sim.world.scenario import load_scenario
from amaradar.spec.link import Plot, Status, Track, encode

SCENARIO = load_scenario()


def builtin_plots_and_tracks():
    """The reference model's plots and track reports of the built-in scenario."""
    plots = reference_chain(chain_config(SCENARIO), ScenarioSource(SCENARIO).read()[0]).detections
    tracks = reference_tracks(tracker_config(SCENARIO.radar, SCENARIO.tracker),
                              SCENARIO.tracker.runtime(),
                              plot_frames(plots, SCENARIO.radar.cpis)).tracks
    return plots, tracks


def status_frame():
    """A status frame with the built-in scenario's timing."""
    r = SCENARIO.radar
    return encode(Status(cpi=0, flags=0, preset=0, dropped_samples=0, dropped_cap=0,
                         dropped_full=0, range_bins=r.line_samples, pulses=r.pulses_per_cpi,
                         sample_rate=int(r.sample_rate_hz), pri=r.line_samples,
                         pulse_samples=r.pulse_samples))


def link_stream(plots, tracks, damage=None):
    """A status frame, then per CPI its plot frames and its track frames; ``damage``:
    the index of a track frame to flip a bit of."""
    data, k = bytearray(status_frame()), 0
    for cpi in range(SCENARIO.radar.cpis):
        for i in range(len(plots["cpi"])):
            if plots["cpi"][i] == cpi:
                data += encode(Plot(*(int(plots[name][i]) for name in Plot._fields)))
        for i in range(len(tracks["cpi"])):
            if tracks["cpi"][i] == cpi:
                frame = bytearray(encode(Track(*(int(tracks[name][i]) for name in Track._fields))))
                if k == damage:
                    frame[12] ^= 0x10
                data += frame
                k += 1
    return bytes(data)
