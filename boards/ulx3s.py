"""ULX3S with the LFE5U-85F (83,640 LUT4, 156 MULT18X18D, 208 DP16KD).

The big board, and the one that runs the range-Doppler chain: the chain at its
full widths (16-bit taps, 18-bit compressed samples) with a Hamming-weighted LFM
pulse of 30 samples (BT = 30; symmetric, so the filter folds onto 60
multipliers), 4,096-sample range lines, CPIs of 16 pulses turned in block RAM
(4,096 x 16 x 36 bits), a Hamming-windowed 16-point Doppler filter, the CA-CFAR
with 16 reference cells along range in each Doppler bin, and plot extraction;
plots go on the link. The echo source has two targets. The clock is 100 MHz from
the EHXPLLL, so the chain can process 100 Msample/s; the board plays its
scenario in real time, 10 Msample/s (one sample every 10 clocks), and reports on
the link at ``LINK_BAUD``. What nextpnr achieves, and the cells used, are in
``bench/results/boards.json`` (``python3 bench/bench_boards.py``).
"""

from amaranth import ClockSignal, Instance, Module
from amaranth.lib import io
from amaranth_boards.ulx3s import ULX3S_85F_Platform

from ..spec.link import LINK_BAUD
from .board import Board
from .clocking import PllClocking

__all__ = ["ecp5_pll_params", "Ecp5Clocking", "BOARD"]

CLOCK_HZ = 100_000_000
_INPUT_HZ = 25_000_000


def ecp5_pll_params(input_hz, output_hz):
    """``(CLKI_DIV, CLKFB_DIV, CLKOP_DIV)`` of an EHXPLLL with CLKOP feedback.

    ``f_out = f_in * CLKFB_DIV / CLKI_DIV``, the VCO at ``f_out * CLKOP_DIV`` in
    400 ... 800 MHz and the phase detector at ``f_in / CLKI_DIV >= 3.125 MHz``
    (ECP5 sysCLOCK guide, TN1263). Raises ``ValueError`` unless ``output_hz`` is exact.
    """
    for clki in range(1, 129):
        if input_hz / clki < 3.125e6:
            break
        clkfb = output_hz * clki / input_hz
        if clkfb != round(clkfb) or not 1 <= clkfb <= 128:
            continue
        for clkop in range(1, 129):
            if 400e6 <= output_hz * clkop <= 800e6:
                return clki, int(clkfb), clkop
    raise ValueError(f"an ECP5 PLL cannot make {output_hz} Hz from {input_hz} Hz exactly")


class Ecp5Clocking(PllClocking):
    """``sync`` at ``CLOCK_HZ`` from the 25 MHz oscillator through EHXPLLL (:class:`PllClocking`)."""

    def pll(self, platform, locked):
        m = Module()
        clki, clkfb, clkop = ecp5_pll_params(_INPUT_HZ, CLOCK_HZ)
        m.submodules.clk_buffer = clk_buffer = io.Buffer("i", platform.request(
            platform.default_clk, dir="-"))
        m.submodules.pll = Instance(
            "EHXPLLL",
            p_CLKI_DIV=clki, p_CLKFB_DIV=clkfb, p_CLKOP_DIV=clkop, p_CLKOP_CPHASE=clkop - 1,
            p_CLKOP_FPHASE=0, p_CLKOP_ENABLE="ENABLED", p_FEEDBK_PATH="CLKOP",
            p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
            p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA",
            a_FREQUENCY_PIN_CLKI=f"{_INPUT_HZ / 1e6:g}",
            a_FREQUENCY_PIN_CLKOP=f"{CLOCK_HZ / 1e6:g}",
            i_CLKI=clk_buffer.i, i_CLKFB=ClockSignal("sync"), i_RST=0, i_STDBY=0,
            i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=0, i_PHASESTEP=0, i_PHASELOADREG=0,
            i_PLLWAKESYNC=0, i_ENCLKOP=0, o_CLKOP=ClockSignal("sync"), o_LOCK=locked)
        return m


BOARD = Board(
    name="ulx3s-85f",
    platform=ULX3S_85F_Platform,
    device="LFE5U-85F-6BG381C",
    clock_hz=CLOCK_HZ,
    clocking=Ecp5Clocking,
    bitstream="bit",
    overrides={},
    coef_width=16,
    mf_output_width=18,
    echo_pulse_width=12,
    max_targets=2,
    uart_baud=LINK_BAUD,    # the FT231X's UART; 100 MHz / 50
    report_cap=16,          # plots per CPI (2 targets), with 16 track reports: 70 % of the link
    fast_clock=True,
    scenario={
        "radar": {
            "sample_rate_hz": 10e6, "bandwidth_hz": 10e6, "pulse_width_s": 3e-6,
            "pri_s": 409.6e-6, "carrier_hz": 435e6, "pulses_per_cpi": 16, "cpis": 1,
            "adc_bits": 12, "noise_seed": 2026, "waveform": "lfm", "noise_rms_lsb": 8.0,
            "window": "hamming",
        },
        "cfar": {"reference_cells": 16, "guard_cells": 3, "pfa": 1e-6},
        "doppler": {"window": "hamming", "mti": "none"},
        "target": [
            {"range_m": 45000.0, "radial_velocity_mps": -3200.0, "snr_db": 3.0},
            {"range_m": 12000.0, "radial_velocity_mps": 240.0, "snr_db": 10.0},
        ],
    },
    presets=(
        # a weak closing target and a strong one near the far edge (61.4 km)
        [{"range_m": 30000.0, "radial_velocity_mps": -1000.0, "snr_db": 0.0},
         {"range_m": 58000.0, "radial_velocity_mps": 300.0, "snr_db": 20.0}],
        [],     # noise only: the false-alarm check
    ),
)
