"""The processing chain of a scenario: its configuration and its bit-exact model.

:func:`chain_config` turns a scenario into the gateware parameters (the same
numbers elaborate :class:`amaradar.hdl.radar_chain.RadarChain`). The CFAR
threshold multiplier is solved for the noise correlation that the matched filter
introduces (exact Pfa of correlated Gaussian cells,
:func:`amaradar.sim.models.detect.ca_cfar.ca_cfar_alpha_correlated`): with the textbook
multiplier for independent cells, the built-in scenario (Hamming weighting,
2x oversampling, 2 x 16 reference cells, Pfa 1e-6) measured 43 false detections
where 1.2 were expected.
:func:`reference_chain` runs the bit-exact models of the blocks in order:
pulse compressor -> power detector -> CA-CFAR; with a ``[doppler]`` section,
pulse compressor -> corner turn -> MTI (if any) -> Doppler filter -> power
detector -> CFAR (CA, GO, SO or OS, 1-D or 2-D, on the range-Doppler map) ->
plot extraction, and the result holds plots instead of detections.

Pulse compressor
----------------
Two implementations of the same filter (taps matched to the pulse, same output
scale ``2**-mf_output_shift``): the time-domain FIR
(:class:`amaradar.hdl.compress.matched_filter.MatchedFilter`, ``compressor = "fir"``) and
overlap-save fast convolution
(:class:`amaradar.hdl.compress.fast_convolution.FastConvolution`, ``"fft"``), which are
not bit-identical to each other. The FIR needs ``4P`` real multipliers (``2P``
when the taps are symmetric and fold; the bench counts the direct form) and
an adder tree for ``P`` taps and runs one sample per clock; the FFT compressor
needs two FFT cores (``4*floor((log2(n) - 1)/2)`` multipliers each), one
complex multiplier and block RAM, whatever ``P``, and accepts ``(n - P + 1)/n``
samples per clock. :func:`chain_config` picks the FFT compressor for pulses of
at least :data:`FFT_COMPRESSOR_MIN_TAPS` samples, with the FFT size
``n = 4P`` rounded up to a power of two (at most 4096, throughput >= 3/4;
``2P`` rounded up, throughput about 1/2, for pulses above 1024 samples). The
crossover is measured with ``synth_ecp5`` (``bench/bench_compressor_crossover.py``
writes ``bench/results/compressor_crossover.json``; the README tabulates it),
counting a logic cell as an ECP5 LUT4 with its flip-flop (``max(LUT4, FF)``).

The FFT form is the smaller from ``cell_crossover_taps`` taps on (in the results
file), and its multipliers grow only with log2(n). But it accepts only
``(n - P + 1)/n`` samples per clock, and the chain runs one ADC sample per clock (the rtl engine
counts every refused sample in ``dropped_samples``): it is real-time only with a
clock ``n/(n - P + 1)`` times the sample rate. :data:`FFT_COMPRESSOR_MIN_TAPS`
is therefore 128, where the FIR (512 multipliers) is out of reach of every supported part (an LFE5U-85F has 156 MULT18X18D) and the FFT
compressor is the only one that can be built; below it the FIR is the default
and ``compressor="fft"`` asks for the FFT form. The built-in scenario's
100-sample pulse stays on the FIR.
"""

from dataclasses import dataclass

import numpy as np

from ..hdl.chain_config import COMPRESSORS, MF_ROUNDING, ChainConfig
from ..hdl.formats import COEF_WIDTH, MF_OUT_WIDTH
from ..hdl.waveform.sine_table import centred_chirp
from .models.waveform.barker_code import barker13
from .models.detect.ca_cfar import ca_cfar, ca_cfar_alpha, ca_cfar_alpha_correlated, cfar_scale
from .models.waveform.lfm_chirp import lfm_chirp
from .models.compress.fast_convolution import fast_convolution
from .models.compress.matched_filter import matched_filter, matched_filter_taps, safe_output_shift
from .models.detect.power_detector import power
from .models.compress.windows import window
from .models.detect.cfar import (cfar_alpha, cfar_alpha_correlated, cfar_scale_word, cfar_stream,
                                 doppler_acf, reference_count, taps_acf)
from .models.detect.plot_extractor import HIT_WORD_DTYPE, plot_extractor
from .models.doppler.corner_turn import corner_turn
from .models.doppler.doppler_filter import doppler_filter, doppler_window
from .models.doppler.mti import mti
from ..spec.records import PULSE_WIDTH
from .world.scenario import ScenarioError

__all__ = ["ChainResult", "chain_config", "scenario_chain_config", "transmit_pulse", "compress", "reference_chain",
           "FFT_COMPRESSOR_MIN_TAPS", "fft_compressor_size"]

FFT_COMPRESSOR_MIN_TAPS = 128
MAX_CLUSTERS = 16        # plot extractor's cluster slots
MAX_DOPPLER_WIDTH = 24   # the Doppler filter's widest output (its FFT core's limit)
CHIRP_PHASE_BITS = 32   # accumulator of the transmit pulse's LFM generator




@dataclass
class ChainResult:
    """Detections (dict of int64 arrays) and the sticky status flags of a run."""
    detections: dict
    status: dict
    power: np.ndarray = None


def transmit_pulse(radar):
    """The gateware's transmit pulse (complex ints), as its generator makes it.

    LFM: :func:`~amaradar.hdl.waveform.sine_table.centred_chirp`, exactly symmetric in time
    (the ideal pulse of :func:`~amaradar.sim.world.scenario.transmit_pulse_ideal`), so the
    matched filter's taps fold."""
    if radar.waveform == "lfm":
        start, stop = centred_chirp(samples=radar.pulse_samples, phase_bits=CHIRP_PHASE_BITS,
                                    bandwidth=radar.bandwidth_hz / radar.sample_rate_hz)
        i, q = lfm_chirp(samples=radar.pulse_samples, start_freq=start, stop_freq=stop,
                         width=COEF_WIDTH, phase_bits=CHIRP_PHASE_BITS)
    else:
        i, q = barker13(chip_samples=radar.chip_samples, width=COEF_WIDTH)
    return i + 1j * q


def fft_compressor_size(taps):
    """FFT size of the fast-convolution compressor for ``taps`` samples of pulse:
    ``4P`` rounded up to a power of two, else ``2P`` rounded up, at least 16."""
    for factor in (4, 2):
        n = max(16, 1 << (factor * taps - 1).bit_length())
        if n <= 4096:
            return n
    raise ValueError(f"taps must be at most 2048 for the fft compressor, not {taps!r}")


def chain_config(scenario, *, coef_width=COEF_WIDTH, mf_output_width=MF_OUT_WIDTH,
                 compressor=None, cfar_peaks=False, mf_round_stage=False):
    """The chain for ``scenario``: taps matched to its pulse and weighted by its
    window, the smallest matched-filter shift that cannot saturate, the CFAR
    scale for its Pfa on the filter's correlated noise, whether the CFAR reports
    only peaks (``cfar_peaks``) and the FIR registers its rounding
    (``mf_round_stage``), and the compressor:
    ``compressor`` ("fir" or "fft") or, by default, "fft" for pulses of at least
    :data:`FFT_COMPRESSOR_MIN_TAPS` samples."""
    if compressor not in (None, *COMPRESSORS):
        raise ValueError(f"compressor must be one of {COMPRESSORS} or None, not {compressor!r}")
    r, c = scenario.radar, scenario.cfar
    pulse = transmit_pulse(r)
    weights = None if r.window == "rect" else window(r.window, len(pulse))
    taps = matched_filter_taps(pulse, coef_width=coef_width, window=weights)
    shift = safe_output_shift(taps, r.adc_bits, mf_output_width)
    if compressor is None:
        compressor = "fft" if len(taps) >= FFT_COMPRESSOR_MIN_TAPS else "fir"
    if scenario.doppler is None:
        alpha = ca_cfar_alpha_correlated(taps, c.pfa, reference_cells=c.reference_cells,
                                         guard_cells=c.guard_cells)
        detector = dict(cfar_scale=cfar_scale(c.reference_cells, c.pfa, alpha=alpha),
                        cfar_alpha=alpha,
                        cfar_alpha_white=ca_cfar_alpha(2 * c.reference_cells, c.pfa))
    else:
        detector = _doppler_config(scenario, taps, mf_output_width)
    return ChainConfig(
        line_length=r.line_samples, pulses_per_cpi=r.pulses_per_cpi, adc_width=r.adc_bits,
        taps=tuple(complex(t) for t in taps), coef_width=coef_width,
        mf_output_width=mf_output_width, mf_output_shift=shift,
        reference_cells=c.reference_cells, guard_cells=c.guard_cells, compressor=compressor,
        fft_size=fft_compressor_size(len(taps)) if compressor == "fft" else 0,
        cfar_peaks=cfar_peaks, mf_round_stage=mf_round_stage, **detector)


def scenario_chain_config(scenario):
    """:func:`chain_config` of a user's scenario: a chain that cannot be built (e.g. a
    CFAR scale word too wide for its Pfa and window) is a :class:`ScenarioError`, one line."""
    try:
        return chain_config(scenario)
    except ValueError as e:
        raise ScenarioError(f"the chain cannot be built for this scenario: {e}") from None


def _doppler_config(scenario, taps, mf_output_width):
    """The range-Doppler fields of :class:`ChainConfig` (and the CFAR's, which replace the
    range-only chain's): the slow-time window's words; the Doppler filter keeps
    ``max(2, ceil(log2(M) / 2))`` bits more than its input, so that white noise,
    whose rms the ``1/M`` scaling of the FFT lowers by ``sqrt(M)`` against a
    coherent echo, stays several LSB (at most ``MAX_DOPPLER_WIDTH`` bits); the CFAR
    factor for the design Pfa on the noise the matched filter correlates in range
    (and the window in Doppler, for a 2-D window)."""
    r, c, d = scenario.radar, scenario.cfar, scenario.doppler
    m = r.pulses_per_cpi
    words = doppler_window(d.window if d.window != "rect" else "rectangular", m)
    mti_width = mf_output_width + {"none": 0, "two_pulse": 1, "three_pulse": 2}[d.mti]
    extra = min(max(2, -(-(m.bit_length() - 1) // 2)), MAX_DOPPLER_WIDTH - mti_width)
    sizes = dict(reference_cells=c.reference_cells, guard_cells=c.guard_cells,
                 doppler_reference_cells=c.doppler_reference_cells,
                 doppler_guard_cells=c.doppler_guard_cells)
    n = reference_count(**sizes)
    os_k = c.os_k if c.type == "os" else None
    alpha = cfar_alpha_correlated(
        c.type, c.pfa, os_k=os_k, range_acf=taps_acf(taps, c.reference_cells + c.guard_cells + 1),
        doppler_acf=doppler_acf(words.astype(np.float64)), **sizes).value
    return dict(
        doppler=True, mti=d.mti, doppler_window=tuple(int(w) for w in words),
        doppler_extra_bits=extra, cfar_type=c.type, os_k=c.os_k,
        doppler_reference_cells=c.doppler_reference_cells,
        doppler_guard_cells=c.doppler_guard_cells, max_clusters=MAX_CLUSTERS,
        cfar_scale=cfar_scale_word(c.type, alpha, n), cfar_alpha=alpha,
        cfar_alpha_white=cfar_alpha(c.type, c.pfa, n, os_k=os_k))


def compress(config, iq):
    """The pulse compressor's bit-exact model over ``iq`` (complex ints, lines x
    samples): the compressed lines (complex ints) and each line's overflow flag."""
    args = dict(output_width=config.mf_output_width, output_shift=config.mf_output_shift,
                rounding=MF_ROUNDING)
    if config.compressor == "fft":
        return fast_convolution(iq, config.taps_array, n=config.fft_size,
                                input_width=config.adc_width, coef_width=config.coef_width,
                                **args)
    return matched_filter(iq, config.taps_array, **args)


def reference_chain(config, iq, *, keep_power=False, compressed=None, first_cpi=0):
    """Run the bit-exact models over ``iq`` (complex ints, lines x samples).

    Lines are grouped into CPIs of ``config.pulses_per_cpi`` in order, as the
    framing of the gateware's input stream marks them; the first is CPI
    ``first_cpi`` (CPIs are independent in the chain: a run cut into blocks of
    whole CPIs gives, block after block, what it gives whole). ``compressed``: the
    result of :func:`compress` when the caller has it already.
    """
    y, mf_overflow = compress(config, iq) if compressed is None else compressed
    if config.doppler:
        return _doppler_chain(config, y, bool(np.any(mf_overflow)), keep_power, first_cpi)
    p, p_overflow = power(y, sample_width=config.mf_output_width)
    m = config.pulses_per_cpi
    parts = [ca_cfar(p[start:start + m], reference_cells=config.reference_cells,
                     guard_cells=config.guard_cells, scale=config.cfar_scale,
                     cpi=first_cpi + start // m,
                     peaks=config.cfar_peaks)
             for start in range(0, len(p), m)]
    found = np.concatenate(parts)
    detections = {name: found[name] for name in found.dtype.names}
    status = {"mf_overflow": bool(np.any(mf_overflow)), "power_overflow": bool(np.any(p_overflow)),
              "line_too_long": iq.shape[1] > config.line_length,
              "pulse_overflow": m > 1 << PULSE_WIDTH}
    return ChainResult(detections, status, p if keep_power else None)


def cfar_ports(config):
    """The CFAR's run-time configuration of a range-Doppler chain, by port name."""
    return dict(cfar_type=("ca", "go", "so", "os").index(config.cfar_type),
                reference_cells=config.reference_cells, guard_cells=config.guard_cells,
                doppler_reference_cells=config.doppler_reference_cells,
                doppler_guard_cells=config.doppler_guard_cells, os_k=config.os_k,
                scale=config.cfar_scale)


def _doppler_chain(config, y, mf_overflow, keep_power, first_cpi):
    """The range-Doppler half of :func:`reference_chain` on compressed lines ``y``."""
    m, length = config.pulses_per_cpi, config.line_length
    cpis = len(y) // m
    slow = corner_turn(y[:cpis * m], pulses=m)[0].reshape(cpis * length, m)
    if config.mti != "none":
        slow = mti(slow, mode=config.mti)
    spectrum, d_overflow = doppler_filter(slow, pulses=m, width=config.mti_width,
                                          window=config.doppler_window,
                                          output_width=config.doppler_width)
    p, p_overflow = power(spectrum, sample_width=config.doppler_width)
    maps = p.reshape(cpis, length, m)
    ports = cfar_ports(config)
    ports["cfar_type"] = config.cfar_type
    words = cfar_stream(list(maps), ports, first_cpi=first_cpi)
    plots, extractor = plot_extractor(words.astype(HIT_WORD_DTYPE), doppler_bins=m,
                                      max_clusters=config.max_clusters)
    plots = plots[plots["cpi_end"] == 0]
    status = {"mf_overflow": mf_overflow, "doppler_overflow": bool(np.any(d_overflow)),
              "power_overflow": bool(np.any(p_overflow)),
              "plot_overflow": bool(extractor["overflow"]),
              "framing_error": False, "config_error": False}   # the model's input is framed right
    return ChainResult({name: plots[name] for name in plots.dtype.names if name != "cpi_end"},
                       status, maps if keep_power else None)
