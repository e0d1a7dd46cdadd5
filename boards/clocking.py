"""The clocking every board top shares: the board's PLL makes ``sync``, and the design
is held in reset until the PLL locks."""

from amaranth import Elaboratable, Module, Signal
from amaranth.lib.cdc import ResetSynchronizer

__all__ = ["PllClocking"]


class PllClocking(Elaboratable):
    """Drives ``ClockSignal("sync")`` from the board's PLL (:meth:`pll`) and
    ``ResetSignal("sync")`` from its lock: reset rises at once when the PLL loses
    lock and falls on ``sync``, two clocks after it locks again
    (:class:`~amaranth.lib.cdc.ResetSynchronizer`).

    The board top defines ``sync``; nextpnr derives its constraint from the pin's
    frequency and the PLL.
    """

    def pll(self, platform, locked):
        """The PLL: an elaboratable that drives ``ClockSignal("sync")`` and ``locked``."""
        raise NotImplementedError

    def elaborate(self, platform):
        m = Module()
        locked = Signal()
        m.submodules.pll = self.pll(platform, locked)
        m.submodules.reset = ResetSynchronizer(~locked, domain="sync")
        return m
