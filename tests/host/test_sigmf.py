"""SigMF recordings: written by a run and read back bit for bit, an outside recording
made with numpy and the sigmf library alone, and one-line errors for bad recordings."""

import json
import math
import warnings

import numpy as np
import pytest
import sigmf

from amaradar.host.sigmf_io import (RecordingError, RecordingSource, integer_datatype,
                                    recording_site, scenario_from_recording, write_recording)
from amaradar.host.site import Site, parse_site
from amaradar.sim.world.scenario import parse_scenario, receive_iq
from amaradar.spec.physics import SPEED_OF_LIGHT


def scenario_doc(adc_bits=12, cpis=3, targets=True):
    doc = {
        "radar": {"sample_rate_hz": 2e6, "bandwidth_hz": 1e6, "pulse_width_s": 8e-6,
                  "pri_s": 100e-6, "carrier_hz": 1.3e9, "pulses_per_cpi": 8, "cpis": cpis,
                  "adc_bits": adc_bits, "noise_seed": 5, "waveform": "lfm",
                  "noise_rms_lsb": 4.0, "window": "hamming"},
        "cfar": {"reference_cells": 8, "guard_cells": 2, "pfa": 1e-4},
    }
    if targets:
        doc["target"] = [{"range_m": 9000.0, "radial_velocity_mps": -300.0, "snr_db": 10.0}]
    return doc


SITE = parse_site({"name": "test site", "sac": 12, "sic": 34, "latitude_deg": 59.5,
                   "longitude_deg": 10.25, "altitude_m": 120, "start_utc": "2026-05-04T03:02:01Z"})


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    scenario = parse_scenario(scenario_doc())
    iq, clipped = receive_iq(scenario)
    meta, data = write_recording(tmp_path_factory.mktemp("rec") / "adc", scenario, iq, SITE)
    return scenario, iq, meta, data


def test_files_validate_with_the_sigmf_library(recording):
    scenario, iq, meta, data = recording
    assert meta.name == "adc.sigmf-meta" and data.name == "adc.sigmf-data"
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no undeclared-extension warning either
        handle = sigmf.fromfile(meta)
        handle.validate()
    r = scenario.radar
    assert handle.get_global_field(sigmf.DATATYPE_KEY) == "ci16_le"
    assert handle.get_global_field(sigmf.SAMPLE_RATE_KEY) == r.sample_rate_hz
    assert handle.sample_count == iq.size
    assert data.stat().st_size == iq.size * 4
    assert {"name": "amaradar", "version": "1.0.0", "optional": True} in \
        handle.get_global_field(sigmf.EXTENSIONS_KEY)
    assert handle.get_global_field(sigmf.GEOLOCATION_KEY)["coordinates"] == [10.25, 59.5, 120.0]
    capture = handle.get_captures()
    assert len(capture) == 1 and capture[0][sigmf.FREQUENCY_KEY] == r.carrier_hz
    assert capture[0][sigmf.DATETIME_KEY] == "2026-05-04T03:02:01Z"
    glob = handle.get_global_info()
    for key in ("pri_s", "pulse_width_s", "bandwidth_hz", "waveform", "window", "pulses_per_cpi",
                "adc_bits"):
        assert glob[f"amaradar:{key}"] == getattr(r, key)
    per_cpi = r.pulses_per_cpi * r.line_samples
    notes = handle.get_annotations()
    assert [a[sigmf.SAMPLE_START_KEY] for a in notes] == [c * per_cpi for c in range(r.cpis)]
    assert {a[sigmf.SAMPLE_COUNT_KEY] for a in notes} == {per_cpi}
    assert [a["amaradar:cpi"] for a in notes] == list(range(r.cpis))
    # the library's own reading of the samples gives the same integers
    samples = sigmf.fromfile(meta, autoscale=False).read_samples()
    assert np.array_equal(samples, iq.ravel())


def test_round_trip_is_bit_exact(recording):
    scenario, iq, meta, _ = recording
    source = RecordingSource(meta)
    assert source.name == "sigmf"
    assert source.scenario == scenario            # rebuilt from the extension alone
    got, clipped = source.read()
    assert clipped == 0
    assert got.dtype == np.complex128 and got.shape == iq.shape
    assert np.array_equal(got, iq)
    assert scenario_from_recording(meta) == scenario
    assert recording_site(meta) == SITE
    # the stem and the data file name the same recording
    assert np.array_equal(RecordingSource(meta.with_suffix("")).read()[0], iq)
    assert np.array_equal(RecordingSource(meta.with_suffix(".sigmf-data")).read()[0], iq)


@pytest.mark.parametrize("adc_bits, datatype, size", [(6, "ci8", 1), (16, "ci16_le", 2),
                                                      (18, "ci32_le", 4)])
def test_smallest_integer_type(tmp_path, adc_bits, datatype, size):
    assert integer_datatype(adc_bits) == datatype
    scenario = parse_scenario(scenario_doc(adc_bits=adc_bits, cpis=1, targets=False))
    r = scenario.radar
    rng = np.random.default_rng(adc_bits)
    full = 1 << (adc_bits - 1)
    iq = rng.integers(-full, full, r.lines * r.line_samples) \
        + 1j * rng.integers(-full, full, r.lines * r.line_samples)
    iq = iq.reshape(r.lines, r.line_samples)
    iq[0, :2] = [-full - 1j * full, (full - 1) + 1j * (full - 1)]      # both extremes
    meta, data = write_recording(tmp_path / "adc", scenario, iq)
    assert json.loads(meta.read_text())["global"]["core:datatype"] == datatype
    assert data.stat().st_size == 2 * size * iq.size
    assert np.array_equal(RecordingSource(meta, scenario).read()[0], iq)


def test_write_rejects_what_is_not_adc_samples(tmp_path):
    scenario = parse_scenario(scenario_doc(cpis=1, targets=False))
    r = scenario.radar
    good = np.zeros((r.lines, r.line_samples), dtype=complex)
    with pytest.raises(ValueError, match=r"^iq must have shape \(8, 200\)"):
        write_recording(tmp_path / "a", scenario, good[:-1])
    with pytest.raises(ValueError, match="^iq must hold whole numbers"):
        write_recording(tmp_path / "a", scenario, good + 0.5)
    with pytest.raises(ValueError, match=r"^iq must fit adc_bits = 12 \(-2048 to 2047\)"):
        write_recording(tmp_path / "a", scenario, good + 2048j)


# --- an outside recording: numpy and the sigmf library only ---------------------------------

FS, PRI, WIDTH, BANDWIDTH, M, LINES = 2e6, 100e-6, 8e-6, 1e6, 8, 16
TARGET_M = 6000.0


def timing_only_scenario(**radar):
    doc = scenario_doc(cpis=2, targets=False)
    doc["radar"].update(radar)
    return parse_scenario(doc)


def outside_samples():
    """Complex float samples of LINES range lines: noise plus an LFM echo from TARGET_M."""
    rng = np.random.default_rng(7)
    length = round(PRI * FS)
    n = round(WIDTH * FS)
    k = np.arange(n)
    chirp = np.exp(1j * np.pi * BANDWIDTH / WIDTH * ((k - (n - 1) / 2) / FS) ** 2)
    delay = round(2 * TARGET_M / SPEED_OF_LIGHT * FS)
    x = 0.01 * (rng.normal(size=(LINES, length)) + 1j * rng.normal(size=(LINES, length)))
    x[:, delay:delay + n] += 0.25 * chirp
    x[3, 150] = 1.2 - 2.0j                     # beyond full scale on both parts: clipped
    return x.astype(np.complex64), chirp, delay


@pytest.fixture(scope="module")
def outside(tmp_path_factory):
    x, chirp, delay = outside_samples()
    stem = tmp_path_factory.mktemp("outside") / "capture"
    handle = sigmf.SigMFFile(global_info={sigmf.DATATYPE_KEY: "cf32_le",
                                          sigmf.SAMPLE_RATE_KEY: FS,
                                          sigmf.DESCRIPTION_KEY: "made with numpy"})
    x.ravel().tofile(f"{stem}.sigmf-data")
    handle.set_data_file(f"{stem}.sigmf-data")
    handle.add_capture(0, metadata={sigmf.FREQUENCY_KEY: 2.9e9,
                                    sigmf.DATETIME_KEY: "2026-01-02T03:04:05Z"})
    handle.tofile(stem)
    return stem, x, chirp, delay


def test_outside_float_recording_is_scaled_like_the_adc(outside):
    stem, x, chirp, delay = outside
    scenario = timing_only_scenario()
    full_scale = 0.5
    source = RecordingSource(f"{stem}.sigmf-meta", scenario, full_scale=full_scale)
    assert source.scenario.radar.carrier_hz == 2.9e9           # the recording's carrier
    assert source.scenario.radar.lines == LINES
    iq, clipped = source.read()
    parts = np.stack([x.real, x.imag]).astype(np.float64)
    expected = np.clip(np.rint(parts / full_scale * 2048), -2048, 2047)
    assert np.array_equal(iq.real, expected[0]) and np.array_equal(iq.imag, expected[1])
    assert clipped == 2 and iq[3, 150] == 2047 - 2048j
    # the echo is where it was put: correlation peaks at the delay in every line
    corr = np.abs(np.array([np.correlate(line, chirp, "valid") for line in iq]))
    assert set(np.argmax(corr, axis=1)) == {delay}


def test_outside_recording_needs_a_scenario(outside):
    stem = outside[0]
    with pytest.raises(RecordingError, match="no amaradar extension in the metadata; give a "
                                             "scenario for the radar's timing$"):
        RecordingSource(f"{stem}.sigmf-meta")


def test_scenario_cpis_are_cut_to_the_recording(outside):
    scenario = timing_only_scenario(cpis=5)
    assert RecordingSource(outside[0], scenario).scenario.radar.cpis == LINES // M


# --- bad recordings: one line each ------------------------------------------------------------

def refused(path, *parts, scenario=None):
    """Opening the recording at ``path`` raises one line holding each of ``parts``."""
    with pytest.raises(RecordingError) as error:
        RecordingSource(path, scenario)
    text = str(error.value)
    assert "\n" not in text
    for part in parts:
        assert part in text


def copy_recording(recording, folder, edit=None, data=None):
    _, _, meta, data_path = recording
    doc = json.loads(meta.read_text())
    if edit:
        edit(doc)
    target = folder / "copy.sigmf-meta"
    target.write_text(json.dumps(doc))
    (folder / "copy.sigmf-data").write_bytes(data_path.read_bytes() if data is None else data)
    return target


def test_missing_and_malformed_meta(tmp_path, recording):
    refused(tmp_path / "none.sigmf-meta",
            "none.sigmf-meta: cannot read the SigMF metadata: No such file")
    bad = tmp_path / "bad.sigmf-meta"
    bad.write_text('{"global": ')
    refused(bad, "bad.sigmf-meta: malformed SigMF metadata: Expecting value at line 1")
    bad.write_text('{"global": {"core:version": "1.2.0"}, "captures": [], "annotations": []}')
    refused(bad, "malformed SigMF metadata: 'core:datatype' is a required property (at global)")
    meta = copy_recording(recording, tmp_path,
                          lambda d: d["global"].__setitem__("core:sample_rate", "fast"))
    refused(meta, "malformed SigMF metadata: 'fast' is not of type 'number'")


def test_unsupported_datatype(tmp_path, recording):
    meta = copy_recording(recording, tmp_path,
                          lambda d: d["global"].__setitem__("core:datatype", "ri16_le"))
    refused(meta, "copy.sigmf-meta: unsupported core:datatype 'ri16_le' (supported: ci8, ci16_le")


def test_missing_data_file(tmp_path, recording):
    meta = copy_recording(recording, tmp_path)
    (tmp_path / "copy.sigmf-data").unlink()
    refused(meta, "copy.sigmf-meta: missing data file", "copy.sigmf-data")


def test_changed_data_fails_its_checksum(tmp_path, recording):
    data = bytearray(recording[3].read_bytes())
    data[10] ^= 1
    meta = copy_recording(recording, tmp_path, data=bytes(data))
    refused(meta, "copy.sigmf-meta: data file", "does not match core:sha512")


def test_sample_rate_differs_from_the_scenario(recording):
    scenario = timing_only_scenario(sample_rate_hz=4e6, bandwidth_hz=2e6)
    refused(recording[2], "adc.sigmf-meta: core:sample_rate = 2000000.0 Hz differs from the "
            "scenario's radar.sample_rate_hz = 4000000.0", scenario=scenario)


def test_timing_differs_from_the_extension(recording):
    scenario = timing_only_scenario(pulses_per_cpi=4)
    refused(recording[2], "amaradar:pulses_per_cpi = 8 differs from the scenario's "
            "radar.pulses_per_cpi = 4", scenario=scenario)


def test_too_few_samples_for_one_cpi(tmp_path, recording):
    meta = copy_recording(recording, tmp_path, lambda d: d["global"].pop("core:sha512"),
                          data=recording[3].read_bytes()[:4 * 1000])
    refused(meta, "copy.sigmf-meta: 1000 samples are fewer than one CPI (8 lines x 200 "
            "samples = 1600)")


def test_integer_samples_must_fit_adc_bits(tmp_path, recording):
    data = bytearray(recording[3].read_bytes())
    data[4 * 5 + 2:4 * 5 + 4] = (3000).to_bytes(2, "little", signed=True)    # Q of sample 5
    meta = copy_recording(recording, tmp_path, lambda d: d["global"].pop("core:sha512"),
                          data=bytes(data))
    source = RecordingSource(meta)
    with pytest.raises(RecordingError, match=r"copy\.sigmf-meta: sample 5 \(-?\d+, 3000\) does "
                                             r"not fit adc_bits = 12 \(-2048 to 2047\)$"):
        source.read()


def test_bad_full_scale():
    with pytest.raises(TypeError, match="^full_scale must be a number, not '1'$"):
        RecordingSource("x", full_scale="1")
    with pytest.raises(ValueError, match="^full_scale must be a finite number > 0, not 0$"):
        RecordingSource("x", full_scale=0)
    with pytest.raises(ValueError, match="^full_scale must be a finite number > 0, not inf$"):
        RecordingSource("x", full_scale=math.inf)


def test_site_defaults_when_none_given(tmp_path):
    scenario = parse_scenario(scenario_doc(cpis=1, targets=False))
    r = scenario.radar
    meta, _ = write_recording(tmp_path / "adc", scenario,
                              np.zeros((r.lines, r.line_samples), dtype=complex))
    assert recording_site(meta) == Site()
