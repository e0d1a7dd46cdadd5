"""The elaboration parameters of the radar chain, in one record.

``amaradar.sim.chain.chain_config`` derives them from a scenario; the gateware
(:class:`~amaradar.hdl.radar_chain.RadarChain`) and the chain's model take them
as they are.
"""

from dataclasses import dataclass

import numpy as np

from .formats import power_width

__all__ = ["ChainConfig", "MF_ROUNDING", "COMPRESSORS"]

MF_ROUNDING = "half_even"   # how the pulse compressor drops bits (its blocks' default)
COMPRESSORS = ("fir", "fft")


MF_ROUNDING = "half_even"


COMPRESSORS = ("fir", "fft")


@dataclass(frozen=True)
class ChainConfig:
    """Elaboration parameters of the chain (see ``RadarChain``)."""
    line_length: int
    pulses_per_cpi: int
    adc_width: int
    taps: tuple           # complex integer taps of the matched filter
    coef_width: int
    mf_output_width: int
    mf_output_shift: int
    reference_cells: int
    guard_cells: int
    cfar_scale: int       # runtime scale word, alpha / 2R in UQ4.16
    cfar_alpha: float     # threshold multiplier for the matched filter's correlated noise
    cfar_alpha_white: float  # the textbook multiplier for independent cells
    compressor: str = "fir"  # "fir" (MatchedFilter) or "fft" (FastConvolution)
    fft_size: int = 0        # FFT size of the "fft" compressor (0 for "fir")
    cfar_peaks: bool = False  # report only detected cells that are local maxima (plots)
    mf_round_stage: bool = False  # the FIR rounds and saturates in two cycles (fast clocks)
    # The range-Doppler chain (``doppler``): corner turn, MTI, Doppler filter, power,
    # the CFAR family on the map, plot extraction (``DopplerChain``).
    doppler: bool = False
    mti: str = "none"             # "none", "two_pulse", "three_pulse"
    doppler_window: tuple = ()    # the Doppler filter's window words
    doppler_extra_bits: int = 0   # Doppler filter output bits beyond its input's
    cfar_type: str = "ca"         # "ca", "go", "so", "os"
    os_k: int = 0                 # OS rank (1-based) among the reference cells
    doppler_reference_cells: int = 0
    doppler_guard_cells: int = 0
    max_clusters: int = 0         # plot extractor's cluster slots

    @property
    def mti_width(self):
        """Bits per part after the MTI canceller (its exact bit growth)."""
        return self.mf_output_width + {"none": 0, "two_pulse": 1, "three_pulse": 2}[self.mti]

    @property
    def doppler_width(self):
        """Bits per part of the Doppler filter's output."""
        return self.mti_width + self.doppler_extra_bits

    @property
    def power_width(self):
        """Bits of the CFAR's power cells."""
        return power_width(self.doppler_width if self.doppler else self.mf_output_width)

    @property
    def taps_array(self):
        return np.array(self.taps, dtype=np.complex128)

    @property
    def tested_cells_per_line(self):
        return self.line_length - 2 * (self.reference_cells + self.guard_cells)

    @property
    def tested_cells_per_cpi(self):
        """Cells of one CPI's range-Doppler map that the CFAR tests."""
        return self.tested_cells_per_line * self.pulses_per_cpi

    def as_dict(self):
        return {
            "line_length": self.line_length, "pulses_per_cpi": self.pulses_per_cpi,
            "adc_width": self.adc_width, "compressor": self.compressor,
            "fft_size": self.fft_size or None, "taps": len(self.taps),
            "coef_width": self.coef_width, "mf_output_width": self.mf_output_width,
            "mf_output_shift": self.mf_output_shift, "mf_rounding": MF_ROUNDING,
            "power_width": self.power_width, "reference_cells": self.reference_cells,
            "guard_cells": self.guard_cells, "cfar_scale_word": self.cfar_scale,
            "cfar_alpha": self.cfar_alpha, "cfar_alpha_white": self.cfar_alpha_white,
            "cfar_peaks": self.cfar_peaks, "mf_round_stage": self.mf_round_stage,
        } | ({} if not self.doppler else {
            "doppler": True, "mti": self.mti, "mti_width": self.mti_width,
            "doppler_window": list(self.doppler_window), "doppler_width": self.doppler_width,
            "cfar_type": self.cfar_type, "os_k": self.os_k,
            "doppler_reference_cells": self.doppler_reference_cells,
            "doppler_guard_cells": self.doppler_guard_cells, "max_clusters": self.max_clusters,
        })
