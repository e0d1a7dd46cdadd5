"""What a board is: its platform, clock, scenario, presets and cut-down widths."""

from dataclasses import dataclass
from functools import cached_property

from ..sim.world.scenario import parse_scenario

__all__ = ["Board"]


@dataclass(frozen=True)
class Board:
    """One board and the configuration built for it.

    Attributes
    ----------
    name : str
        Name on the command line.
    platform : type
        amaranth-boards platform class.
    device : str
        FPGA part, for the report.
    clock_hz : int
        Frequency of ``sync`` made by ``clocking``; the chain takes one sample per clock.
    clocking : type
        Elaboratable that makes ``sync`` (PLL and reset synchronizer).
    bitstream : str
        Extension of the bitstream Amaranth's flow writes (``bin``, ``bit``, ``fs``).
    overrides : dict
        Extra Amaranth build overrides (``synth_opts``, ``nextpnr_opts`` additions).
    coef_width, mf_output_width : int
        Matched-filter tap and output widths (``formats`` defaults unless cut down).
    echo_pulse_width : int
        Bits per part of the echo source's pulse ROM.
    max_targets : int
        Targets of the echo source.
    scenario : dict
        The scenario, as the tables of a scenario TOML file: it fixes the chain, and
        its targets are preset 0. Its sample rate must divide ``clock_hz``: the
        board plays it in real time.
    uart_baud : int
        Bit rate of the report link (8N1); must divide ``clock_hz``.
    report_cap : int
        Most detection frames per CPI (:func:`link_budget` checks that they fit).
    fast_clock : bool
        Spend registers on timing: the matched filter rounds and saturates in two
        cycles (``ChainConfig.mf_round_stage``), the echo source registers its
        rounded gain (``EchoSource.gain_stage``).
    presets : tuple of list of dict
        The echo source's presets 1, 2, ...: each the ``[[target]]`` tables of a
        scenario file (``[]``: noise only), played with the scenario's radar and
        noise. The user button steps through preset 0 (the scenario's targets) and
        these.
    """
    name: str
    platform: type
    device: str
    clock_hz: int
    clocking: type
    bitstream: str
    overrides: dict
    coef_width: int
    mf_output_width: int
    echo_pulse_width: int
    max_targets: int
    scenario: dict
    uart_baud: int
    report_cap: int
    fast_clock: bool = False
    presets: tuple = ()

    @cached_property
    def parsed(self):
        """The scenario, checked and parsed once (``amaradar.sim.world.scenario.Scenario``)."""
        return parse_scenario(self.scenario)
