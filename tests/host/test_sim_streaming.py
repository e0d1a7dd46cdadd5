"""`amaradar sim` streams a run in blocks of whole CPIs: a run cut into one block per
CPI writes the same files, byte for byte, and the same report (but its timings) as the
run in one block; a run that cannot fit is refused in one line before it starts."""

import json
import tomllib

import pytest

from amaradar.cli import main
from amaradar.host import run as run_module
from amaradar.host.run import cpi_blocks, output_bytes, run_sim
from amaradar.sim.world.scenario import parse_scenario, receive_iq
from scenarios import SMALL, SMALL_DOPPLER

#: Reports of two runs may differ in these keys only: wall-clock times, and the rtl
#: engine's figures (its processes and their drain cycles depend on the blocks).
RUN_FIGURES = ("timings", "rtl")


def _outputs(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "report.json"}


def _report(folder):
    report = json.loads((folder / "report.json").read_text())
    return {key: value for key, value in report.items() if key not in RUN_FIGURES}


def _both(tmp_path, scenario, **options):
    """The run in one block and in one block per CPI: (outputs, report) of each."""
    runs = []
    for name, budget in (("whole", 1 << 30), ("blocks", 1)):
        out = tmp_path / name
        run_sim(scenario, out_dir=out, quiet=True, block_samples=budget,
                asterix=tmp_path / f"{name}.ast", **options)
        runs.append((_outputs(out), _report(out), (tmp_path / f"{name}.ast").read_bytes()))
    return runs


def test_blocks_follow_the_budget():
    r = parse_scenario(tomllib.loads(SMALL_DOPPLER)).radar     # 3 CPIs of 8 x 60 samples
    assert cpi_blocks(r, 1 << 30) == [(0, 3)]
    assert cpi_blocks(r, 2 * 480) == [(0, 2), (2, 1)]
    assert cpi_blocks(r, 1) == [(0, 1), (1, 1), (2, 1)]


def test_a_cpi_receives_the_same_samples_in_any_block():
    scenario = parse_scenario(tomllib.loads(SMALL_DOPPLER))
    whole, clipped = receive_iq(scenario)
    m = scenario.radar.pulses_per_cpi
    for first in range(scenario.radar.cpis):
        block, _ = receive_iq(scenario, first, 1)
        assert (block == whole[first * m:(first + 1) * m]).all()
    with pytest.raises(ValueError, match="CPIs 2 to 3 are not within the scenario's 0 to 2"):
        receive_iq(scenario, 2, 2)


@pytest.mark.parametrize("text, engine", [(SMALL_DOPPLER, "reference"), (SMALL, "reference"),
                                          (SMALL_DOPPLER, "rtl"), (SMALL, "rtl")])
def test_a_run_in_blocks_writes_what_the_whole_run_writes(tmp_path, text, engine):
    doc = tomllib.loads(text)
    if "doppler" in doc:                       # tracks that carry across the blocks
        doc["tracker"] = {"confirm_m": 2, "confirm_n": 3}
    scenario = parse_scenario(doc)
    whole, blocks = _both(tmp_path, scenario, engine=engine, record=True)
    assert whole[0].keys() == blocks[0].keys() >= {"detections.csv", "truth.csv",
                                                   "adc.sigmf-data", "adc.sigmf-meta"}
    for name in whole[0]:
        assert whole[0][name] == blocks[0][name], name
    assert whole[1] == blocks[1]
    assert whole[2] == blocks[2]                                          # ASTERIX
    kind = "plots" if "doppler" in doc else "detections"
    assert whole[1]["counts"][kind] > 0
    if engine == "rtl":
        assert blocks[1]["bit_exact"] is True
        assert blocks[1]["compared"]["compared"]["compressed_samples"] == \
            blocks[1]["counts"]["samples"]


def test_a_run_that_cannot_be_held_is_refused_in_one_line(tmp_path, capsys, monkeypatch):
    path = tmp_path / "small.toml"
    path.write_text(SMALL)
    monkeypatch.setattr(run_module, "_available_memory", lambda: 1000)
    status = main(["sim", "--scenario", str(path), "--out", str(tmp_path / "out"),
                   "--engine", "reference"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and "\n" not in err
    assert "a block of 720 ADC samples" in err and "MiB are available" in err
    assert not (tmp_path / "out").exists()


def test_a_run_whose_files_cannot_be_stored_is_refused(tmp_path, capsys, monkeypatch):
    path = tmp_path / "small.toml"
    path.write_text(SMALL)
    monkeypatch.setattr(run_module.shutil, "disk_usage",
                        lambda folder: type("Usage", (), {"free": 1000})())
    status = main(["sim", "--scenario", str(path), "--out", str(tmp_path / "out"),
                   "--engine", "reference", "--record"])
    err = capsys.readouterr().err.strip()
    assert status == 2 and "\n" not in err
    assert "the run's files need about" in err and "MiB are free there" in err
    assert not (tmp_path / "out").exists()


def test_the_estimate_counts_the_recording_exactly():
    scenario = parse_scenario(tomllib.loads(SMALL))     # 10-bit ADC: ci16, 4 bytes a sample
    r = scenario.radar
    assert output_bytes(scenario, record=True) - output_bytes(scenario) == \
        4 * r.lines * r.line_samples


def test_a_long_run_is_a_valid_scenario():
    """The run's length has no limit of its own (the old one refused 2**26 samples)."""
    doc = tomllib.loads(SMALL)
    doc["radar"]["cpis"] = 65_536
    doc["target"] = []                  # SMALL's targets would leave the range in 2.4 s
    r = parse_scenario(doc).radar
    assert r.lines * r.line_samples == 65_536 * 3 * 120
    assert len(cpi_blocks(r)) == -(-65_536 // (run_module.BLOCK_SAMPLES // (3 * 120)))
