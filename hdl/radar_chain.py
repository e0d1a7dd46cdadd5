"""The receive chain from ADC samples to CFAR detections."""

from amaranth import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .detect.ca_cfar import CaCfar
from .compress.fast_convolution import FastConvolution
from .formats import CFAR_SCALE_WIDTH, complex_layout, framed_layout
from .compress.matched_filter import MatchedFilter
from .detect.power_detector import PowerDetector
from .stream.skid_buffer import SkidBuffer

__all__ = ["RadarChain", "pulse_compressor"]


def pulse_compressor(config):
    """The pulse compressor of ``config``: the FIR :class:`MatchedFilter` or the
    overlap-save :class:`FastConvolution` of ``config.fft_size`` points."""
    common = dict(taps=config.taps_array, input_width=config.adc_width,
                  coef_width=config.coef_width, output_width=config.mf_output_width,
                  output_shift=config.mf_output_shift)
    if config.compressor == "fft":
        return FastConvolution(n=config.fft_size, **common)
    return MatchedFilter(round_stage=config.mf_round_stage, **common)


class RadarChain(wiring.Component):
    """Pulse compressor -> power detector -> CA-CFAR, joined by skid buffers.

    The compressor is ``config.compressor``: the FIR :class:`MatchedFilter` or
    the overlap-save :class:`FastConvolution` of ``config.fft_size`` points.

    Parameters
    ----------
    config : amaradar.hdl.chain_config.ChainConfig
        Every width, the matched-filter taps and the CFAR window.

    Members
    -------
    i : In(stream.Signature(framed_layout(complex_layout(config.adc_width))))
        ADC samples framed into range lines and CPIs.
    scale : In(CFAR_SCALE_WIDTH)
        CFAR threshold scale, alpha / 2R in UQ4.16 (``config.cfar_scale``).
    o : Out(stream.Signature(detection_layout(...)))
        Detections, in stream order.
    mf_overflow, power_overflow, line_too_long, pulse_overflow : Out(1)
        Sticky status flags of the blocks.

    Latency/throughput
    ------------------
    One ADC sample per clock sustained with the FIR; ``(n - P + 1)/n`` with the
    FFT compressor (``i.ready`` drops while it replays a segment's overlap). The
    skid buffers cut the ready path between blocks so it never spans more than
    one block.

    Model
    -----
    :func:`amaradar.sim.chain.reference_chain`.
    """

    def __init__(self, config):
        self._mf = pulse_compressor(config)
        self._power = PowerDetector(sample_width=config.mf_output_width)
        self._cfar = CaCfar(line_length=config.line_length,
                            reference_cells=config.reference_cells,
                            guard_cells=config.guard_cells, power_width=config.power_width,
                            peaks=config.cfar_peaks)
        super().__init__({
            "i": In(stream.Signature(framed_layout(complex_layout(config.adc_width)))),
            "scale": In(CFAR_SCALE_WIDTH),
            "o": Out(self._cfar.o.signature),
            "mf_overflow": Out(1),
            "power_overflow": Out(1),
            "line_too_long": Out(1),
            "pulse_overflow": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.matched_filter = mf = self._mf
        m.submodules.power = pw = self._power
        m.submodules.cfar = cfar = self._cfar
        m.submodules.mf_skid = mf_skid = SkidBuffer(mf.o.payload.shape())
        m.submodules.power_skid = power_skid = SkidBuffer(pw.o.payload.shape())
        wiring.connect(m, wiring.flipped(self.i), mf.i)
        wiring.connect(m, mf.o, mf_skid.i)
        wiring.connect(m, mf_skid.o, pw.i)
        wiring.connect(m, pw.o, power_skid.i)
        wiring.connect(m, power_skid.o, cfar.i)
        wiring.connect(m, cfar.o, wiring.flipped(self.o))
        m.d.comb += [
            cfar.scale.eq(self.scale),
            self.mf_overflow.eq(mf.overflow),
            self.power_overflow.eq(pw.overflow),
            self.line_too_long.eq(cfar.line_too_long),
            self.pulse_overflow.eq(cfar.pulse_overflow),
        ]
        return m
