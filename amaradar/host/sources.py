"""Where ``amaradar sim`` takes its ADC samples from.

A source has a ``name`` and ``read(first_cpi=0, cpis=None) -> (iq, clipped)``: the
complex integer samples of ``cpis`` CPIs from CPI ``first_cpi`` (default: the whole
run), one row per range line (``cpis * pulses_per_cpi`` x ``line_samples``), and the
count of I or Q samples that saturated the ADC. ``amaradar sim`` reads its run block
by block of CPIs; a CPI's samples are the same whichever block asks for them. :class:`ScenarioSource` plays the
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

    def read(self, first_cpi=0, cpis=None):
        return receive_iq(self.scenario, first_cpi, cpis)
