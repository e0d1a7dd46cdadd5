"""Tang Nano 9K (Gowin GW1NR-9C: 8,640 LUT4, 6,480 FF, 20 MULT18X18, 26 BSRAM).

A middle configuration, between the iCEBreaker's and the ULX3S's: a Barker-13
pulse at one sample per chip (13 taps of +-1: the filter needs adders only), a
10-bit ADC, 14-bit compressed samples, 1,024-sample range lines, a CA-CFAR over
2 x 8 reference cells, one echo target. The clock is 54 MHz from the rPLL and
the chain can take one sample per clock: 54 Msample/s, 52,734 range lines/s; the
board plays its scenario in real time, 1 Msample/s (one sample every 54 clocks),
and reports on the link at ``LINK_BAUD``. The Gowin flow of Amaranth 0.5 passes
no clock constraint to nextpnr, so ``--freq`` sets it.

Why not more: nextpnr-himbaechel's Gowin legaliser puts a flip-flop beside a LUT
only when that LUT drives it, and two flip-flops of a slice pair only with the
same clock, enable and reset, so delay lines of flip-flops take slices of their
own. With 12-bit samples, 16-bit filter output and 2 x 16 CFAR cells its placer
did not finish a fourth iteration in minutes. ``-nolutram`` keeps memories out of RAM16SDP4 (each takes
a whole CFU, no flip-flop beside it) and in block RAM.
"""

from amaranth import ClockSignal, Instance, Module
from amaranth.lib import io
from amaranth_boards.tang_nano_9k import TangNano9kPlatform

from ..spec.link import LINK_BAUD
from .board import Board
from .clocking import PllClocking

__all__ = ["gowin_pll_params", "GowinClocking", "BOARD"]

CLOCK_HZ = 54_000_000
_INPUT_HZ = 27_000_000
_ODIV = (2, 4, 8, 16, 32, 48, 64, 80, 96, 112, 128)


def gowin_pll_params(input_hz, output_hz):
    """``(IDIV_SEL, FBDIV_SEL, ODIV_SEL)`` of a GW1NR-9 rPLL.

    ``f_out = f_in * (FBDIV_SEL + 1) / (IDIV_SEL + 1)``, the VCO at
    ``f_out * ODIV_SEL`` in 400 ... 1200 MHz, the phase detector at
    ``f_in / (IDIV_SEL + 1) >= 3 MHz`` (Gowin UG286). Raises ``ValueError`` unless
    ``output_hz`` is exact.
    """
    for idiv in range(64):
        if input_hz / (idiv + 1) < 3e6:
            break
        fbdiv = output_hz * (idiv + 1) / input_hz - 1
        if fbdiv != round(fbdiv) or not 0 <= fbdiv <= 63:
            continue
        for odiv in _ODIV:
            if 400e6 <= output_hz * odiv <= 1200e6:
                return idiv, int(fbdiv), odiv
    raise ValueError(f"a Gowin rPLL cannot make {output_hz} Hz from {input_hz} Hz exactly")


class GowinClocking(PllClocking):
    """``sync`` at ``CLOCK_HZ`` from the 27 MHz oscillator through rPLL (:class:`PllClocking`)."""

    def pll(self, platform, locked):
        m = Module()
        idiv, fbdiv, odiv = gowin_pll_params(_INPUT_HZ, CLOCK_HZ)
        m.submodules.clk_buffer = clk_buffer = io.Buffer("i", platform.request(
            platform.default_clk, dir="-"))
        m.submodules.pll = Instance(
            "rPLL",
            p_FCLKIN=f"{_INPUT_HZ / 1e6:g}", p_DEVICE=platform.family,
            p_IDIV_SEL=idiv, p_FBDIV_SEL=fbdiv, p_ODIV_SEL=odiv,
            p_DYN_IDIV_SEL="false", p_DYN_FBDIV_SEL="false", p_DYN_ODIV_SEL="false",
            p_CLKFB_SEL="internal", p_PSDA_SEL="0000", p_DUTYDA_SEL="1000",
            p_DYN_DA_EN="false", p_CLKOUT_BYPASS="false", p_CLKOUTP_BYPASS="false",
            p_CLKOUTD_BYPASS="false", p_DYN_SDIV_SEL=2, p_CLKOUTD_SRC="CLKOUT",
            p_CLKOUTD3_SRC="CLKOUT",
            i_CLKIN=clk_buffer.i, i_CLKFB=0, i_RESET=0, i_RESET_P=0,
            i_FBDSEL=0, i_IDSEL=0, i_ODSEL=0, i_PSDA=0, i_DUTYDA=0, i_FDLY=0,
            o_CLKOUT=ClockSignal("sync"), o_LOCK=locked)
        return m


BOARD = Board(
    name="tangnano9k",
    platform=TangNano9kPlatform,
    device="GW1NR-LV9QN88PC6/I5",
    clock_hz=CLOCK_HZ,
    clocking=GowinClocking,
    bitstream="fs",
    overrides={"synth_opts": "-nolutram", "nextpnr_opts": f"--freq {CLOCK_HZ / 1e6:g}"},
    coef_width=2,
    mf_output_width=14,
    echo_pulse_width=10,
    max_targets=1,
    uart_baud=LINK_BAUD,    # the BL702's USB UART; 54 MHz / 27
    report_cap=16,          # 1 target x 16 pulses per CPI
    scenario={
        "radar": {
            "sample_rate_hz": 1e6, "bandwidth_hz": 1e6, "pulse_width_s": 13e-6,
            "pri_s": 1024e-6, "carrier_hz": 1.3e9, "pulses_per_cpi": 16, "cpis": 1,
            "adc_bits": 10, "noise_seed": 9, "waveform": "barker13", "noise_rms_lsb": 8.0,
        },
        "cfar": {"reference_cells": 8, "guard_cells": 2, "pfa": 1e-5},
        "target": [{"range_m": 30000.0, "radial_velocity_mps": -600.0, "snr_db": 6.0}],
    },
    presets=(
        # weak, near the far edge (153.6 km), opening
        [{"range_m": 140000.0, "radial_velocity_mps": 900.0, "snr_db": 2.0}],
        [],     # noise only: the false-alarm check
    ),
)
