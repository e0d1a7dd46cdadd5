"""Reset in the middle of a CPI: the radar chain and the range-Doppler chain, under
random stalls, give after the reset exactly the words of the model started fresh
on the input fed after it (every word, nothing more), in the Amaranth simulator
and in cocotb on the generated Verilog."""

import random
import tomllib

import numpy as np
import pytest

from amaradar.hdl.formats import unpack
from amaradar.sim.chain import cfar_ports, chain_config, reference_chain
from amaradar.sim.engines.fault_bench import Reset, run_with_fault
from amaradar.sim.engines.streams import cocotb_stream
from amaradar.sim.engines.rtl_chain import chain_component, frame_iq
from amaradar.sim.world.scenario import parse_scenario, receive_iq
from scenarios import SMALL, SMALL_DOPPLER, SMALL_LONG_PULSE

def _words(words):
    return [int.from_bytes(row.tobytes(), "little") for row in words]


def _setup(text, **choices):
    scenario = parse_scenario(tomllib.loads(text))
    config = chain_config(scenario, **choices)
    iq, _ = receive_iq(scenario)
    ports = cfar_ports(config) if config.doppler else {"scale": config.cfar_scale}
    return config, iq, ports, reference_chain(config, iq)


def _assert_model(chain, words, ref, cpis):
    """``words`` of ``chain``'s output are the model's detections (or plots, each
    CPI of a range-Doppler chain closed by one ``cpi_end`` word), every one."""
    found = unpack(chain.o.payload.shape(), words)
    if "cpi_end" in found:
        assert list(found["cpi_end"]).count(1) == cpis
        keep = np.asarray(found["cpi_end"]) == 0
        found = {k.removeprefix("plot."): np.asarray(v)[keep] for k, v in found.items()
                 if k != "cpi_end"}
    assert len(ref.detections["cpi"]) > 0
    for key, value in ref.detections.items():
        assert np.array_equal(found[key], value), key


@pytest.mark.parametrize("text,choices,cpi", [
    (SMALL, {}, 0), (SMALL, {}, 1), (SMALL_LONG_PULSE, {"compressor": "fft"}, 1),
    (SMALL_DOPPLER, {}, 0), (SMALL_DOPPLER, {}, 1),
], ids=["range-cpi0", "range-cpi1", "range-fft-cpi1", "doppler-cpi0", "doppler-cpi1"])
def test_reset_inside_a_cpi_then_bit_exact(text, choices, cpi):
    config, iq, ports, ref = _setup(text, **choices)
    chain = chain_component(config)
    inputs = _words(frame_iq(config, iq))
    per_cpi = config.pulses_per_cpi * config.line_length
    at = random.Random(cpi).randrange(cpi * per_cpi + 1, (cpi + 1) * per_cpi - 1)
    run = run_with_fault(chain, inputs, fault=Reset(cycles=3),
                         trigger=lambda fed, emitted: fed == at, ports=ports, seed=cpi + 20,
                         settle_cycles=3 * per_cpi)
    _assert_model(chain, run.after, ref, len(iq) // config.pulses_per_cpi)


@pytest.mark.parametrize("text,name", [(SMALL, "radar_chain_small"), (SMALL_DOPPLER, "doppler_chain_small")],
                         ids=["range", "doppler"])
def test_reset_inside_a_cpi_in_cocotb_then_bit_exact(text, name):
    """The same in cocotb + Verilator: reset inside CPI 1, the inputs fed again."""
    config, iq, ports, ref = _setup(text)
    chain = chain_component(config)
    inputs = _words(frame_iq(config, iq))
    per_cpi = config.pulses_per_cpi * config.line_length
    at = random.Random(7).randrange(per_cpi + 1, 2 * per_cpi - 1)
    count = len(ref.detections["cpi"]) + (len(iq) // config.pulses_per_cpi if config.doppler else 0)
    words = cocotb_stream(chain, name, inputs, count, seed=31, ports=ports, reset_after=at,
                          settle_cycles=3 * per_cpi)
    _assert_model(chain, words, ref, len(iq) // config.pulses_per_cpi)
