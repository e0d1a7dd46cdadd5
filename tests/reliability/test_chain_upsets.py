"""A flipped bit in a block RAM of the chain, under random stalls: the chain never
locks up (it takes every input word and the bench ends), and its output is back
to the model's, word for word, from the next CPI to enter after the upset.

Every RAM of the FFT-compressor chain (overlap-save ring, FFT delay lines and
reorder RAMs, frame-marker queues, segment descriptors) and of the range-Doppler
chain (corner turn, Doppler FFT, CFAR window and running sums, plot extractor's
labels and records) is upset once, at a random word, bit and clock inside CPI 1.
The bound: the CPI entering at the upset and the one before it may differ (the
corner turn holds the one before while it is read out, and the FFT compressor's
pipeline, about 4n samples, reaches back more than a line: an upset one line into
CPI 1 changed thresholds of CPI 0's last line); every CPI after them must not. A few
RAMs run in CI; the others are marked slow.
"""

import random
import tomllib
import zlib

import numpy as np
import pytest
from amaranth import Fragment, Shape

from amaradar.hdl.formats import unpack
from amaradar.sim.chain import cfar_ports, chain_config, reference_chain
from amaradar.sim.engines.fault_bench import Upset, memories, run_with_fault
from amaradar.sim.engines.rtl_chain import chain_component, frame_iq
from amaradar.sim.world.scenario import parse_scenario, receive_iq
from scenarios import SMALL_DOPPLER, SMALL_LONG_PULSE

CPIS = 3
CHAINS = {"fft": (SMALL_LONG_PULSE, {"compressor": "fft"}), "doppler": (SMALL_DOPPLER, {})}
#: The RAMs upset in CI (one of each kind); the others are slow.
IN_CI = {"fft": ("matched_filter.segmenter.ring", "matched_filter.forward.stage0.delay.storage",
                 "matched_filter.inverse.stage14.ram", "matched_filter.inverse.flags.storage",
                 "matched_filter.descriptors.storage"),
         "doppler": ("corner_turn.ram", "doppler_filter.fft.stage5.ram", "cfar.sums",
                     "cfar.bank", "plots.labels", "plots.records")}


def _setup(chain):
    text, choices = CHAINS[chain]
    config = chain_config(parse_scenario(tomllib.loads(text)), **choices)
    iq, _ = receive_iq(parse_scenario(tomllib.loads(text)))
    return config, iq, reference_chain(config, iq)


def _ram_names(chain):
    config, _, _ = _setup(chain)
    return sorted(memories(Fragment.get(chain_component(config), None)))


def _cases():
    for chain in CHAINS:
        for name in _ram_names(chain):
            marks = () if name in IN_CI[chain] else (pytest.mark.slow,)
            yield pytest.param(chain, name, id=f"{chain}-{name}", marks=marks)


@pytest.mark.parametrize("chain,ram", _cases())
def test_upset_never_locks_up_and_the_next_cpi_is_exact(chain, ram):
    config, iq, ref = _setup(chain)
    dut = chain_component(config)
    fragment = Fragment.get(dut, None)
    data = memories(fragment)[ram]
    rng = random.Random(zlib.crc32(ram.encode()))
    per_cpi, line = config.pulses_per_cpi * config.line_length, config.line_length
    at = rng.randrange(per_cpi + line, 2 * per_cpi)
    upset = Upset(ram, rng.randrange(data.depth),
                  (rng.randrange(Shape.cast(data.shape).width),))
    inputs = [int.from_bytes(row.tobytes(), "little") for row in frame_iq(config, iq)]
    ports = cfar_ports(config) if config.doppler else {"scale": config.cfar_scale}
    run = run_with_fault(dut, inputs, fault=upset, trigger=lambda fed, _: fed == at,
                         ports=ports, seed=rng.randrange(1000), fragment=fragment,
                         settle_cycles=2 * per_cpi)
    found = unpack(dut.o.payload.shape(), run.before + run.after)
    upset_cpi = at // per_cpi
    if "cpi_end" in found:
        assert list(found["cpi_end"]).count(1) == CPIS     # every CPI came out, and ended
        keep = np.asarray(found["cpi_end"]) == 0
        found = {k.removeprefix("plot."): np.asarray(v)[keep] for k, v in found.items()
                 if k != "cpi_end"}
    spoiled = {upset_cpi - 1, upset_cpi}
    got_keep = ~np.isin(found["cpi"], list(spoiled))
    want_keep = ~np.isin(ref.detections["cpi"], list(spoiled))
    assert np.count_nonzero(want_keep) > 0 and CPIS - 1 not in spoiled
    for key, value in ref.detections.items():
        assert np.array_equal(np.asarray(found[key])[got_keep], value[want_keep]), key
