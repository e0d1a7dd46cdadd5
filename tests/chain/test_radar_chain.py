"""The whole chain: RadarChain against reference_chain, bit for bit, with stalls.

A small scenario (short lines, a 16-sample LFM: the FIR compressor) keeps the
Amaranth simulation fast; a 64-sample LFM takes the FFT compressor (n = 256);
the same comparison on the built-in scenario runs in test_sim_command.py.
"""

import tomllib

import numpy as np
import pytest

from amaradar.hdl.formats import complex_layout, framed_layout, pack, unpack
from amaradar.hdl.radar_chain import RadarChain
from amaradar.sim.chain import chain_config, reference_chain
from amaradar.sim.engines.rtl_chain import design_key, frame_iq, run_rtl_chain
from amaradar.sim.engines.payloads import unpack_bytes
from amaradar.sim.engines.rtl_engine import RtlEngine
from amaradar.sim.world.scenario import parse_scenario, receive_iq

from amaradar.sim.engines.streams import cocotb_stream, simulate_stream
from scenarios import SMALL



@pytest.fixture(scope="module")
def small():
    scenario = parse_scenario(tomllib.loads(SMALL))
    config = chain_config(scenario)
    iq, _ = receive_iq(scenario)
    return scenario, config, iq, reference_chain(config, iq)


def _detections(words, chain):
    found = unpack(chain.o.payload.shape(), words)
    return {k: found[k] for k in ("cpi", "pulse", "range_bin", "power", "threshold")}


def _input_words(config, iq):
    lines, length = iq.shape
    k = np.tile(np.arange(length), lines)
    line = np.repeat(np.arange(lines), length)
    return pack(framed_layout(complex_layout(config.adc_width)),
                **{"data.i": iq.real.ravel(), "data.q": iq.imag.ravel(), "first": k == 0,
                   "last": k == length - 1,
                   "cpi_end": (k == length - 1) & (line % config.pulses_per_cpi
                                                   == config.pulses_per_cpi - 1)})


def _assert_same(got, want):
    for key, value in want.items():
        assert np.array_equal(got[key], value), key


def test_small_scenario_detects_its_targets(small):
    _, _, _, ref = small
    assert len(ref.detections["range_bin"]) >= 6          # both targets on every line
    assert not any(ref.status.values())


def test_frame_iq_matches_the_slow_packer(small):
    _, config, iq, _ = small
    fast = frame_iq(config, iq)
    words = [int.from_bytes(row.tobytes(), "little") for row in fast]
    assert words == _input_words(config, iq)


@pytest.mark.parametrize("p_stall", [0.0, 0.4])
def test_chain_in_amaranth_sim_equals_the_model(small, p_stall):
    _, config, iq, ref = small
    chain = RadarChain(config)
    count = len(ref.detections["range_bin"])
    out = simulate_stream(chain, _input_words(config, iq), count, p_in_stall=p_stall,
                          p_out_stall=p_stall, seed=11, ports={"scale": config.cfar_scale})
    _assert_same(_detections(out, chain), ref.detections)


def test_chain_in_cocotb_verilator_equals_the_model(small):
    _, config, iq, ref = small
    chain = RadarChain(config)
    count = len(ref.detections["range_bin"])
    out = cocotb_stream(chain, "radar_chain_small", _input_words(config, iq), count,
                        p_in_stall=0.3, p_out_stall=0.5, seed=12, ports={"scale": config.cfar_scale})
    _assert_same(_detections(out, chain), ref.detections)


@pytest.mark.parametrize("p_stall", [0.0, 0.5])
def test_chain_in_the_rtl_engine_equals_the_model(small, p_stall):
    _, config, iq, ref = small
    chain = RadarChain(config)
    run = RtlEngine(chain, name="radar_chain", key=design_key(config)).run(
        frame_iq(config, iq), ports={"scale": config.cfar_scale}, drain_cycles=1000,
        p_in_stall=p_stall, p_out_stall=p_stall, seed=13)
    found = unpack_bytes(chain.o.payload.shape(), run.outputs)
    _assert_same({k: found[k] for k in ref.detections}, ref.detections)
    assert {k: bool(v) for k, v in run.status.items()} == {k: ref.status[k] for k in run.status}
    if p_stall == 0:
        assert run.refused == 0                       # one sample per clock, no ADC sample lost


LONG = SMALL.replace("pulse_width_s = 1.6e-6", "pulse_width_s = 6.4e-6").replace(
    "pri_s = 12e-6", "pri_s = 20e-6").replace("range_m = 800.0", "range_m = 1300.0").replace(
    "range_m = 1250.0", "range_m = 1900.0").replace("cpis = 2", "cpis = 1")


@pytest.fixture(scope="module")
def long_pulse():
    scenario = parse_scenario(tomllib.loads(LONG))
    config = chain_config(scenario, compressor="fft")
    iq, _ = receive_iq(scenario)
    return config, iq, reference_chain(config, iq)


def test_compressor_choice_by_pulse_length():
    for width, compressor, size in ((1.6e-6, "fir", None), (12.7e-6, "fir", None),
                                    (12.8e-6, "fft", 512), (60e-6, "fft", 4096)):
        text = SMALL.replace("pulse_width_s = 1.6e-6", f"pulse_width_s = {width}").replace(
            "pri_s = 12e-6", "pri_s = 100e-6")
        config = chain_config(parse_scenario(tomllib.loads(text)))
        assert (config.compressor, config.as_dict()["fft_size"]) == (compressor, size)


def test_long_pulse_fft_compressor_detects_the_targets(long_pulse):
    config, _, ref = long_pulse
    assert config.compressor == "fft" and config.fft_size == 256
    assert config.as_dict()["compressor"] == "fft" and config.as_dict()["fft_size"] == 256
    assert len(ref.detections["range_bin"]) >= 3          # both targets on most lines
    assert not any(ref.status.values())


def test_long_pulse_chain_in_amaranth_sim_equals_the_model(long_pulse):
    config, iq, ref = long_pulse
    chain = RadarChain(config)
    out = simulate_stream(chain, _input_words(config, iq), len(ref.detections["range_bin"]),
                          p_in_stall=0.3, p_out_stall=0.3, seed=14,
                          ports={"scale": config.cfar_scale})
    _assert_same(_detections(out, chain), ref.detections)


@pytest.mark.parametrize("processes", [1, 2])
def test_rtl_chain_engine_in_cpi_groups_equals_the_model(small, processes):
    """run_rtl_chain splits the CPIs over processes and renumbers them: same detections."""
    _, config, iq, ref = small
    result, info = run_rtl_chain(config, iq, processes=processes)
    assert info["processes"] == processes
    _assert_same(result.detections, ref.detections)
    assert {k: result.status[k] for k in ref.status} == ref.status
    assert result.status["dropped_samples"] == 0
    assert set(ref.detections["cpi"]) == {0, 1}
