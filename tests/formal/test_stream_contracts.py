"""Formal proofs of the stream contract of every streaming block, at small parameters.

Each case names the block, its parameters, the proof (``prove``: k-induction,
every reachable state; ``bmc``: the first ``depth`` cycles from reset) and the
conservation it asserts (see ``amaradar.sim.engines.formal``). The README's
"Formal proofs" table lists the same cases.
"""

import re

import pytest
from amaranth import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from amaradar.hdl.chain_config import ChainConfig
from amaradar.hdl.compress.fast_convolution import FastConvolution
from amaradar.hdl.compress.fft import FFT
from amaradar.hdl.compress.fft_iterative import IterativeFFT
from amaradar.hdl.compress.matched_filter import MatchedFilter
from amaradar.hdl.detect.ca_cfar import CaCfar
from amaradar.hdl.detect.cfar import Cfar
from amaradar.hdl.detect.plot_extractor import PlotExtractor
from amaradar.hdl.detect.power_detector import PowerDetector
from amaradar.hdl.doppler.corner_turn import CornerTurn
from amaradar.hdl.doppler.doppler_filter import DopplerFilter
from amaradar.hdl.doppler.mti import MtiCanceller
from amaradar.hdl.doppler_chain import DopplerChain
from amaradar.hdl.link.report_framer import ReportFramer
from amaradar.hdl.radar_chain import RadarChain
from amaradar.hdl.stream.skid_buffer import SkidBuffer
from amaradar.hdl.track.tables import TrackerConfig, TrackerRadar
from amaradar.hdl.track.tracker import Tracker
from amaradar.hdl.waveform.barker_code import BarkerCode
from amaradar.hdl.waveform.echo_source import EchoSource
from amaradar.hdl.waveform.gaussian_noise import GaussianNoise
from amaradar.hdl.waveform.lfm_chirp import LfmChirp
from amaradar.sim.engines.formal import StreamContract, prove_stream


def _pipeline(dut):
    """A 1:1 pipeline: holds at most ``latency`` words and drains in ``latency`` cycles."""
    return dut, dict(capacity=dut.latency, flush=dut.latency)


def _corner_turn():
    # the buffer's L*M words and the reads on credit (queue_depth); a partial
    # CPI (up to L*M - 1 words) stays until the CPI is complete
    dut = CornerTurn(line_length=2, pulses=2, width=2)
    return dut, dict(capacity=4 + dut.queue_depth, flush=dut.latency + 2, residual=4 - 1,
                     frame=(2, 2))


def _fft():
    # latency 27; besides, the spare words of the skid buffers between stages
    dut = FFT(n=8, width=4, twiddle_width=4)
    return dut, dict(capacity=35, frame=(8, 1))


def _doppler_filter():
    # window multipliers then the 8-point FFT: latency 31, and spare words
    dut = DopplerFilter(pulses=8, width=4, window=[3] * 8, coef_width=4, twiddle_width=4)
    return dut, dict(capacity=47, frame=(8, 1))


def _chain_config(**doppler):
    """A chain of 3-bit samples, a 2-tap filter and 1 CFAR reference cell each side."""
    return ChainConfig(adc_width=3, taps=(1, -1), coef_width=3, mf_output_width=4,
                       mf_output_shift=0, reference_cells=1, cfar_scale=1 << 16,
                       cfar_alpha=2.0, cfar_alpha_white=2.0, **doppler)


def _radar_chain():
    config = _chain_config(line_length=6, pulses_per_cpi=2, guard_cells=1)
    return RadarChain(config), dict(conservation="at_most", frame=(6, 2))


def _doppler_chain():
    config = _chain_config(line_length=3, pulses_per_cpi=8, guard_cells=0, doppler=True,
                           doppler_window=(3,) * 8, max_clusters=1)
    return DopplerChain(config), dict(frame=(3, 8))


CASES = {
    # name: (block and contract options, mode, depth, cover depth)
    "skid_buffer": (lambda: (SkidBuffer(8), dict(
        capacity=2, flush=2, occupancy=lambda d: d.o.valid + ~d.i.ready)), "prove", 4, 4),
    "power_detector": (lambda: _pipeline(PowerDetector(sample_width=4)), "bmc", 12, 12),
    "matched_filter": (lambda: _pipeline(MatchedFilter(
        taps=[3 + 1j, -2 + 2j, 1 - 1j], input_width=4, coef_width=4, output_width=8)),
        "bmc", 16, 16),
    "mti_two_pulse": (lambda: (MtiCanceller(width=4), dict(
        capacity=1, flush=1, occupancy=lambda d: d.o.valid)), "prove", 4, 8),
    "mti_three_pulse": (lambda: (MtiCanceller(width=4, mode="three_pulse"), dict(
        capacity=1, flush=1, occupancy=lambda d: d.o.valid)), "prove", 4, 8),
    "corner_turn": (_corner_turn, "bmc", 16, 16),
    "ca_cfar": (lambda: (CaCfar(line_length=6, reference_cells=1, guard_cells=1, power_width=3),
                         dict(conservation="at_most", frame=(6, 2))), "bmc", 20, 20),
    "plot_extractor": (lambda: (PlotExtractor(range_bits=2, doppler_bins=2, power_width=3,
                                              max_clusters=1),
                                dict(conservation=None)), "bmc", 16, 20),
    "report_framer": (lambda: (ReportFramer(range_bits=2, power_bits=3, cap=1, depth=1),
                               dict(conservation=None, free=("heartbeat",))), "bmc", 16, 16),
    "radar_chain": (_radar_chain, "bmc", 20, 24),
    "fft8": (_fft, "bmc", 30, 36),
    # held reaches 28 within 30 cycles, and more than 31 within 40
    "fft8_depth40": (_fft, "bmc", 40, None),
    "doppler_filter8": (_doppler_filter, "bmc", 40, 40),
    "cfar_2d": (lambda: (Cfar(range_cells=3, doppler_cells=8, max_reference_cells=1,
                              max_guard_cells=0, power_width=2, types=("ca",)),
                         dict(conservation=None, frame=(3, 8))), "bmc", 12, 60),
    # sources: no input, so the output contract and the covers only
    "lfm_chirp": (lambda: (LfmChirp(samples=4, start_freq=-0.25, stop_freq=0.25, width=4,
                                    phase_bits=8, table_bits=4),
                           dict(conservation=None, markers=("first", "last"))), "prove", 4, 12),
    "barker_code": (lambda: (BarkerCode(chip_samples=1, width=4),
                             dict(conservation=None, markers=("first", "last"))), "prove", 4, 16),
    "gaussian_noise": (lambda: (GaussianNoise(seed=1), dict(conservation=None)), "prove", 4, 12),
    "echo_source": (lambda: (EchoSource(pulse=[3 + 1j, -2], pulse_width=4, line_length=3,
                                        pulses_per_cpi=2, width=4),
                             dict(conservation=None, free=("restart",))), "prove", 4, 20),
}
SLOW = {"fft8_depth40", "doppler_filter8", "cfar_2d"}   # over a minute each here


def _tracker():
    radar = TrackerRadar(range_cell_m=15.0, cpi_s=16e-3, pulses=8, unambiguous_velocity_mps=172.0)
    config = TrackerConfig(radar=radar, max_tracks=1, max_plots=2, range_pos_bits=12,
                           max_speed_mps=3000)
    return Tracker(config, power_bits=3), {}


# Blocks whose first output comes too late for a bounded check in CI (a whole frame
# through one memory, two FFTs, a CPI's plots or a CPI through the corner turn): the
# output contract only.
CONTRACT_ONLY = {
    "fft_iterative8": lambda: (IterativeFFT(n=8, width=4, twiddle_width=4), dict(frame=(8, 1))),
    "fast_convolution": lambda: (FastConvolution(taps=[3 + 1j, -2 + 2j], n=8, input_width=4),
                                 dict(frame=(4, 1))),
    "tracker": _tracker,
    "doppler_chain": _doppler_chain,
}
# the output contract alone (no conservation) closes by 4-induction for these
INDUCTION = {**{name: case[0] for name, case in CASES.items()
                if case[1] == "bmc" and name != "fft8_depth40"},
             **CONTRACT_ONLY}


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow)
                                  if name in SLOW else name for name in CASES])
def test_stream_contract(name, tmp_path):
    build, mode, depth, cover_depth = CASES[name]
    dut, contract = build()
    result = prove_stream(dut, mode=mode, depth=depth, cover_depth=cover_depth,
                          workdir=tmp_path, **contract)
    assert result.status == "PASS", (result.failed, result.log[-3000:])
    assert result.counts["assert"] >= 3 and result.counts["cover"] >= (cover_depth is not None)


@pytest.mark.parametrize("name", INDUCTION)
def test_output_contract_by_induction(name, tmp_path):
    dut, contract = INDUCTION[name]()
    contract = {key: contract[key] for key in ("frame", "free") if key in contract}
    result = prove_stream(dut, mode="prove", depth=4, conservation=None, workdir=tmp_path,
                          **contract)
    assert result.status == "PASS", (result.failed, result.log[-3000:])
    assert result.counts["assert"] == 3


@pytest.mark.parametrize("name", ["power_detector", "matched_filter", "corner_turn"])
def test_capacity_is_tight(name, tmp_path):
    """One word less than the stated capacity is exceeded within the same depth."""
    build, mode, depth, _ = CASES[name]
    dut, contract = build()
    contract["capacity"] -= 1
    result = prove_stream(dut, mode=mode, depth=depth, workdir=tmp_path, **contract)
    assert result.status == "FAIL" and result.failed == ["held within capacity"]


class _LossySkidBuffer(wiring.Component):
    """A skid buffer that claims to be always ready: the word offered while it is
    full is accepted and lost."""

    def __init__(self):
        super().__init__({"i": In(stream.Signature(8)), "o": Out(stream.Signature(8))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.inner = inner = SkidBuffer(8)
        wiring.connect(m, wiring.flipped(self.i), inner.i)
        wiring.connect(m, inner.o, wiring.flipped(self.o))
        m.d.comb += self.i.ready.eq(1)
        return m


def test_broken_skid_buffer_fails_its_proof(tmp_path):
    # a capacity too large to be reached in 8 cycles: what fails is the loss itself
    result = prove_stream(_LossySkidBuffer(), mode="bmc", depth=8, capacity=8, flush=2,
                          workdir=tmp_path)
    assert result.status == "FAIL"
    assert "nothing lost (drains after a flush)" in result.failed


def test_lossy_buffer_also_exceeds_its_capacity(tmp_path):
    """Without the drain check, the lost words pile up in ``held``; the output
    contract itself still holds."""
    result = prove_stream(_LossySkidBuffer(), mode="bmc", depth=8, capacity=2, flush=None,
                          workdir=tmp_path)
    assert result.status == "FAIL"
    assert result.failed == ["held within capacity"]


@pytest.mark.parametrize("block, args, message", [
    (lambda: SkidBuffer(8), dict(conservation="all"),
     "conservation='all': must be one of ('exact', 'at_most', None)"),
    (lambda: BarkerCode(chip_samples=1), dict(conservation="exact"),
     "conservation='exact': a source (no port i) allows only None"),
])
def test_bad_contract(block, args, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        StreamContract(block(), **args)


@pytest.mark.filterwarnings("ignore:.*created but never used")
@pytest.mark.parametrize("args, message", [
    (dict(mode="sim"), "mode='sim': must be one of prove, bmc"),
    (dict(depth=0), "depth=0: must be a positive integer"),
])
def test_bad_parameters(args, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        prove_stream(SkidBuffer(8), capacity=2, **args)
