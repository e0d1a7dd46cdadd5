"""The range-Doppler receive chain: from ADC samples to plots."""

from amaranth import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .detect.cfar import Cfar
from .detect.plot_extractor import PlotExtractor
from .detect.power_detector import PowerDetector
from .doppler.corner_turn import CornerTurn
from .doppler.doppler_filter import DopplerFilter
from .doppler.mti import MtiCanceller
from .formats import complex_layout, framed_layout
from .radar_chain import pulse_compressor
from .stream.skid_buffer import SkidBuffer

__all__ = ["DopplerChain", "CFAR_PORTS"]

#: The CFAR's run-time configuration ports, which the chain passes through.
CFAR_PORTS = ("cfar_type", "reference_cells", "guard_cells", "doppler_reference_cells",
              "doppler_guard_cells", "os_k", "scale")


class DopplerChain(wiring.Component):
    """Pulse compressor -> corner turn -> MTI -> Doppler filter -> power -> CFAR -> plots.

    Each CPI's compressed range lines are turned into the slow-time sequences of
    its range bins (:class:`CornerTurn`), cancelled (:class:`MtiCanceller`, unless
    ``config.mti`` is ``"none"``), windowed and transformed into ``M`` Doppler
    bins (:class:`DopplerFilter`, zero Doppler at ``M/2``), squared
    (:class:`PowerDetector`), tested by the CFAR of ``config.cfar_type`` on the
    range-Doppler map (:class:`Cfar`, 1-D along range or 2-D) and the hits that
    touch become plots (:class:`PlotExtractor`). Skid buffers join the blocks.

    Parameters
    ----------
    config : amaradar.hdl.chain_config.ChainConfig
        With ``doppler`` set: every width, the taps, the slow-time window, the MTI
        mode and the CFAR's maxima (its sizes, rank and type are also the
        run-time ports below, which must not exceed them).

    Members
    -------
    i : In(stream.Signature(framed_layout(complex_layout(config.adc_width))))
        ADC samples framed into range lines and CPIs.
    cfar_type, reference_cells, guard_cells, doppler_reference_cells, doppler_guard_cells, os_k, scale : In(...)
        The CFAR's run-time configuration (:class:`Cfar`), sampled at each CPI's start;
        ``amaradar.sim.chain.cfar_ports`` gives the values of ``config``.
    o : Out(stream.Signature(plots_layout(...)))
        The plots of each CPI, then a word with ``cpi_end`` set.
    mf_overflow, doppler_overflow, power_overflow, plot_overflow : Out(1)
        Sticky saturation and capacity flags of the blocks.
    framing_error : Out(1)
        Sticky: a block's framing disagreed with its count of samples (corner turn,
        Doppler filter, CFAR) or a CPI had more range bins than the CFAR's.
    config_error : Out(1)
        Sticky: the CFAR was given a configuration outside its maxima.

    Latency/throughput
    ------------------
    One ADC sample per clock sustained with the FIR compressor; the corner turn
    delays a CPI by ``L*M`` samples, the CFAR by ``N + G`` range rows, and a plot
    leaves when its cluster closes.

    Model
    -----
    :func:`amaradar.sim.chain.reference_chain` (``config.doppler``).
    """

    def __init__(self, config):
        if not config.doppler:
            raise ValueError("config must be a range-Doppler configuration (doppler=True)")
        m = config.pulses_per_cpi
        self._blocks = [
            ("compressor", pulse_compressor(config)),
            ("corner_turn", CornerTurn(line_length=config.line_length, pulses=m,
                                       width=config.mf_output_width)),
        ]
        if config.mti != "none":
            self._blocks.append(("mti", MtiCanceller(width=config.mf_output_width,
                                                     mode=config.mti)))
        self._blocks += [
            ("doppler_filter", DopplerFilter(pulses=m, width=config.mti_width,
                                             window=config.doppler_window,
                                             output_width=config.doppler_width)),
            ("power", PowerDetector(sample_width=config.doppler_width)),
        ]
        self._cfar = Cfar(range_cells=config.line_length, doppler_cells=m,
                          max_reference_cells=config.reference_cells,
                          max_guard_cells=config.guard_cells, power_width=config.power_width,
                          types=(config.cfar_type,),
                          max_doppler_reference_cells=config.doppler_reference_cells,
                          max_doppler_guard_cells=config.doppler_guard_cells)
        self._plots = PlotExtractor(range_bits=self._cfar.range_bits, doppler_bins=m,
                                    power_width=config.power_width,
                                    max_clusters=config.max_clusters)
        self._blocks += [("cfar", self._cfar), ("plots", self._plots)]
        ports = {name: In(getattr(self._cfar, name).shape()) for name in CFAR_PORTS}
        super().__init__({
            "i": In(stream.Signature(framed_layout(complex_layout(config.adc_width)))),
            **ports,
            "o": Out(self._plots.o.signature),
            "mf_overflow": Out(1),
            "doppler_overflow": Out(1),
            "power_overflow": Out(1),
            "plot_overflow": Out(1),
            "framing_error": Out(1),
            "config_error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        blocks = dict(self._blocks)
        upstream = wiring.flipped(self.i)
        for index, (name, block) in enumerate(self._blocks):
            m.submodules[name] = block
            if index:
                m.submodules[f"{name}_skid"] = skid = SkidBuffer(block.i.payload.shape())
                wiring.connect(m, upstream, skid.i)
                upstream = skid.o
            wiring.connect(m, upstream, block.i)
            upstream = block.o
        wiring.connect(m, upstream, wiring.flipped(self.o))
        cfar = self._cfar
        m.d.comb += [getattr(cfar, name).eq(getattr(self, name)) for name in CFAR_PORTS]
        m.d.comb += [
            self.mf_overflow.eq(blocks["compressor"].overflow),
            self.doppler_overflow.eq(blocks["doppler_filter"].overflow),
            self.power_overflow.eq(blocks["power"].overflow),
            self.plot_overflow.eq(self._plots.overflow),
            self.framing_error.eq(blocks["corner_turn"].framing_error
                                  | blocks["doppler_filter"].misframed
                                  | cfar.framing_error | cfar.cpi_too_long),
            self.config_error.eq(cfar.config_error),
        ]
        return m
