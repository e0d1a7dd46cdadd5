"""Where ``amaradar sim`` takes its ADC samples from.

A source has a ``name`` and ``read() -> (iq, clipped)``: complex integer samples,
one row per range line (``Scenario.radar.lines`` x ``line_samples``), and the count
of I or Q samples that saturated the ADC. :class:`ScenarioSource` plays the
scenario's echo model; a recording (SigMF) is the next kind of source.
"""

from ..sim.world.scenario import receive_iq

__all__ = ["ScenarioSource"]


class ScenarioSource:
    """The scenario's targets and receiver noise, through the ADC model
    (:func:`amaradar.sim.world.scenario.receive_iq`)."""

    name = "scenario"

    def __init__(self, scenario):
        self.scenario = scenario

    def read(self):
        return receive_iq(self.scenario)
