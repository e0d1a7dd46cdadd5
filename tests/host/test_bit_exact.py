"""`bit_exact` means it: the words compared are counted per stream (every compressed
sample, every report, every track report) and each way it can fail does fail it — a
differing sample, a differing report, a missing or extra word, a differing flag,
a dropped ADC sample, nothing compared."""

import json

import numpy as np
import pytest

from amaradar.cli import main
from amaradar.sim.comparison import Comparison
from amaradar.sim.engines import rtl_chain
from scenarios import SMALL



def _sim(tmp_path, pulse="1.6e-6", name="out"):
    path = tmp_path / f"{name}.toml"
    path.write_text(SMALL.replace("pri_s = 12e-6", "pri_s = 60e-6")
                    .replace("pulse_width_s = 1.6e-6", f"pulse_width_s = {pulse}"))
    status = main(["sim", "--scenario", str(path), "--out", str(tmp_path / name), "--quiet"])
    return status, json.loads((tmp_path / name / "report.json").read_text())


def test_every_sample_and_report_is_counted(tmp_path):
    status, report = _sim(tmp_path)
    c = report["compared"]
    assert status == 0 and report["bit_exact"] is True
    assert c["compared"]["compressed_samples"] == 2 * 3 * 600 == report["counts"]["samples"]
    assert c["compared"]["detections"] == report["counts"]["detections"] > 0
    assert c["differing"] == {"compressed_samples": 0, "detections": 0}
    assert c["flags_equal"] is True and c["dropped_samples"] == 0


def test_a_differing_compressed_sample_fails_it(tmp_path, monkeypatch):
    real = rtl_chain.run_rtl_compressor

    def one_flipped(config, iq):
        samples, info = real(config, iq)
        samples = samples.copy()
        samples[1, 7] += 1
        return samples, info
    monkeypatch.setattr(rtl_chain, "run_rtl_compressor", one_flipped)
    status, report = _sim(tmp_path)
    assert status == 1 and report["bit_exact"] is False
    assert report["compared"]["differing"] == {"compressed_samples": 1, "detections": 0}


def test_a_lost_report_fails_it(tmp_path, monkeypatch):
    real = rtl_chain.run_rtl_chain

    def one_lost(config, iq, **kwargs):
        result, info = real(config, iq, **kwargs)
        result.detections = {k: v[1:] for k, v in result.detections.items()}
        return result, info
    monkeypatch.setattr(rtl_chain, "run_rtl_chain", one_lost)
    status, report = _sim(tmp_path)
    assert status == 1 and report["bit_exact"] is False
    assert report["compared"]["differing"]["detections"] >= 1


def test_dropped_samples_fail_it(tmp_path):
    """A 12.8 us pulse takes the FFT compressor, which refuses (P - 1)/n of the samples
    offered one per clock: the words agree, yet it is not bit-exact."""
    status, report = _sim(tmp_path, pulse="12.8e-6", name="fft")
    c = report["compared"]
    assert report["chain"]["compressor"] == "fft"
    assert c["dropped_samples"] == report["status"]["dropped_samples"] > 0
    assert not any(c["differing"].values()) and c["flags_equal"]
    assert status == 1 and report["bit_exact"] is False


def test_comparison_rules():
    ok = Comparison()
    ok.words("samples", np.arange(5), np.arange(5))
    assert ok.bit_exact and ok.compared == {"samples": 5}
    assert not Comparison().bit_exact                                 # nothing compared
    empty = Comparison()
    empty.words("reports", {"a": np.zeros(0)}, {"a": np.zeros(0)})
    assert not empty.bit_exact
    longer = Comparison()
    longer.words("reports", {"a": np.arange(3)}, {"a": np.array([0, 1, 2, 2, 2])})
    assert longer.compared == {"reports": 5} and longer.differing == {"reports": 2}
    assert not longer.bit_exact
    flags = Comparison()
    flags.words("samples", np.arange(2), np.arange(2))
    flags.flags({"overflow": False}, {"overflow": 1, "extra": 0})
    assert not flags.bit_exact
    dropped = Comparison(dropped_samples=1)
    dropped.words("samples", np.arange(2), np.arange(2))
    assert not dropped.bit_exact
    with pytest.raises(ValueError, match="the engines' fields differ"):
        Comparison().words("reports", {"a": np.arange(1)}, {"b": np.arange(1)})
