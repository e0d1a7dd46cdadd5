"""iCEBreaker (Lattice iCE40UP5K-SG48): the smallest board.

The UP5K has 5,280 LUT4 and 8 SB_MAC16, so the chain is cut to fit: 8-bit ADC
samples, a Barker-13 pulse at one sample per chip, matched filter taps of 2 bits
(+-1: the filter needs adders only), 10-bit compressed samples (one SB_MAC16 per
square in the power detector), 256-sample range lines, a CA-CFAR over 2 x 4
reference cells and 1 guard cell a side that reports peaks only (chosen when
a larger window did not fit; the README's board notes say what one costs now),
and one echo target (its complex product takes four SB_MAC16, its gain the last
two: the presets differ in amplitude; with one amplitude word, a power of two,
the gain would be a shift).
The clock is 18 MHz from the PLL, so the chain can process 18 Msample/s (what
nextpnr achieves, and the cells used, are in ``bench/results/boards.json``); the board plays its scenario in real time, 1 Msample/s
(one sample every 18 clocks), and reports on the link at ``LINK_BAUD``.
"""

from amaranth import ClockSignal, Instance, Module
from amaranth_boards.icebreaker import ICEBreakerPlatform

from ..spec.link import LINK_BAUD
from .board import Board
from .clocking import PllClocking

__all__ = ["ice40_pll_params", "Ice40Clocking", "ICEBreakerWithPmodPlatform", "BOARD"]

CLOCK_HZ = 18_000_000

# Before synth_ice40 maps every multiplier to SB_MAC16: flatten, so that the
# CFAR's scale is the constant the board top drives, and turn the CFAR's product
# into gates, which constant folding shrinks to a few adders (instead of three
# SB_MAC16).
_CFAR_PRODUCT_IN_LUTS = ("proc; flatten; opt_expr; opt_clean; wreduce t:$mul; "
                         "techmap -map +/techmap.v t:$mul c:*cfar* %i; opt_expr; opt_clean")
_INPUT_HZ = 12_000_000


def ice40_pll_params(input_hz, output_hz):
    """``(DIVR, DIVF, DIVQ, FILTER_RANGE)`` of an SB_PLL40 in SIMPLE feedback mode.

    ``f_out = f_in * (DIVF + 1) / ((DIVR + 1) * 2**DIVQ)``, with the phase detector
    at 10 ... 133 MHz and the VCO at 533 ... 1066 MHz (iCE40 sysCLOCK PLL guide).
    Raises ``ValueError`` when ``output_hz`` is not reached exactly.
    """
    for divr in range(16):
        pfd = input_hz / (divr + 1)
        if not 10e6 <= pfd <= 133e6:
            continue
        for divq in range(1, 7):
            divf = output_hz * (divr + 1) * (1 << divq) / input_hz - 1
            vco = pfd * (round(divf) + 1)
            if divf == round(divf) and 0 <= divf <= 127 and 533e6 <= vco <= 1066e6:
                filter_range = sum(pfd >= edge for edge in (17e6, 26e6, 44e6, 66e6, 101e6)) + 1
                return divr, int(divf), divq, filter_range
    raise ValueError(f"an iCE40 PLL cannot make {output_hz} Hz from {input_hz} Hz exactly")


class ICEBreakerWithPmodPlatform(ICEBreakerPlatform):
    """The iCEBreaker with its break-off LED and button board on PMOD2, as it ships:
    LEDs 2 ... 6 beside the main board's 0 and 1."""
    resources = ICEBreakerPlatform.resources + ICEBreakerPlatform.break_off_pmod


class Ice40Clocking(PllClocking):
    """``sync`` at ``CLOCK_HZ`` from the 12 MHz pin through SB_PLL40_PAD (:class:`PllClocking`)."""

    def pll(self, platform, locked):
        m = Module()
        divr, divf, divq, filter_range = ice40_pll_params(_INPUT_HZ, CLOCK_HZ)
        pin = platform.request(platform.default_clk, dir="-")
        m.submodules.pll = Instance(
            "SB_PLL40_PAD",
            p_FEEDBACK_PATH="SIMPLE", p_DIVR=divr, p_DIVF=divf, p_DIVQ=divq,
            p_FILTER_RANGE=filter_range,
            i_PACKAGEPIN=pin.io, i_RESETB=1, i_BYPASS=0,
            o_PLLOUTGLOBAL=ClockSignal("sync"), o_LOCK=locked)
        return m


BOARD = Board(
    name="icebreaker",
    platform=ICEBreakerWithPmodPlatform,
    device="iCE40UP5K-SG48",
    clock_hz=CLOCK_HZ,
    clocking=Ice40Clocking,
    bitstream="bin",
    overrides={"synth_opts": "-dsp", "script_after_read": _CFAR_PRODUCT_IN_LUTS},
    coef_width=2,
    mf_output_width=10,
    echo_pulse_width=8,
    max_targets=1,
    uart_baud=LINK_BAUD,    # the FT2232H's UART; 18 MHz / 9
    report_cap=16,          # 1 target x 16 pulses per CPI
    scenario={
        "radar": {
            "sample_rate_hz": 1e6, "bandwidth_hz": 1e6, "pulse_width_s": 13e-6,
            "pri_s": 256e-6, "carrier_hz": 1.3e9, "pulses_per_cpi": 16, "cpis": 1,
            "adc_bits": 8, "noise_seed": 7, "waveform": "barker13", "noise_rms_lsb": 4.0,
        },
        "cfar": {"reference_cells": 4, "guard_cells": 1, "pfa": 1e-4},
        # 8.963 dB makes the echo amplitude word 8192
        "target": [{"range_m": 12000.0, "radial_velocity_mps": -300.0, "snr_db": 8.963}],
    },
    presets=(
        # weak, near the far edge (38.4 km), opening
        [{"range_m": 35000.0, "radial_velocity_mps": 450.0, "snr_db": 3.0}],
        [],     # noise only: the false-alarm check
    ),
)
