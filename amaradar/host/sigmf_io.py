"""SigMF recordings of the ADC samples: written by a run, read back as an IQ source.

A recording is a pair ``<stem>.sigmf-meta`` (JSON) + ``<stem>.sigmf-data`` (the
samples), written and checked with the ``sigmf`` library (SigMF 1.2).

What :func:`write_recording` writes
-----------------------------------
Data
    Every range line of the run, in order, one after the other: sample ``k`` of
    line ``n`` is sample ``n * L + k`` of the recording (``L = pri_s *
    sample_rate_hz``); sample 0 is taken at the leading edge of the first
    transmit pulse. Interleaved I/Q integers exactly as the ADC gave them, in the
    smallest complex integer type holding ``adc_bits`` (``ci8`` up to 8 bits,
    ``ci16_le`` up to 16, ``ci32_le`` above).
Global
    ``core:datatype``, ``core:sample_rate``, ``core:num_channels`` (1),
    ``core:sha512``, ``core:recorder``, ``core:description``,
    ``core:geolocation`` (the site, GeoJSON ``[lon, lat, alt]``),
    ``core:extensions`` declaring the ``amaradar`` namespace (optional, version
    :data:`EXTENSION_VERSION`) and its keys:

    ================================  =======================================
    ``amaradar:pri_s``                pulse repetition interval, s
    ``amaradar:pulse_width_s``        transmit pulse length, s
    ``amaradar:bandwidth_hz``         LFM sweep width, Hz
    ``amaradar:waveform``             ``lfm`` or ``barker13``
    ``amaradar:window``               matched-filter weighting of the run
    ``amaradar:pulses_per_cpi``       range lines per CPI, M
    ``amaradar:cpis``                 CPIs recorded
    ``amaradar:adc_bits``             ADC resolution, bits
    ``amaradar:noise_rms_lsb``        simulated receiver noise, LSB rms (I and Q)
    ``amaradar:noise_seed``           seed of the simulated noise
    ``amaradar:cfar``                 the scenario's ``[cfar]`` table
    ``amaradar:doppler``              its ``[doppler]`` table, when it has one
    ``amaradar:targets``              its ``[[target]]`` tables: the truth
    ``amaradar:clutter``              its ``[[clutter]]`` tables
    ``amaradar:site``                 the ``[site]`` table (:mod:`.site`)
    ================================  =======================================
Capture
    One, at sample 0: ``core:frequency`` (the carrier, Hz) and ``core:datetime``
    (the site's first pulse, ``start_utc + time_offset_s``).
Annotations
    One per CPI: ``core:sample_start``, ``core:sample_count`` (``M * L``),
    ``core:label`` (``"CPI n"``), ``amaradar:cpi`` and ``amaradar:time_s`` (its
    first pulse, s after the site's first pulse).

What :class:`RecordingSource` reads
-----------------------------------
Any single-channel SigMF recording of complex samples: ``ci8``, ``ci16``,
``ci32`` or ``cf32``, ``cf64`` (little- or big-endian). The sample rate and the
carrier come from the recording (a recording without ``core:frequency`` takes
the scenario's carrier); the radar's timing (PRI, pulse, waveform, pulses per
CPI, ADC bits) from the ``amaradar`` extension, or else from the scenario given
(which then needs no targets); with both, they must agree. The window, CFAR and
Doppler settings and the truth come from the scenario given, or else from the
extension. Sample 0 must be the leading edge of a transmit pulse. The recording
gives ``min(scenario cpis, whole CPIs it holds)`` CPIs; samples after the last
whole CPI are not used.

Integer samples are taken as they are and must fit ``adc_bits`` (two's
complement). Complex float samples are scaled so that ``full_scale`` is the ADC's
full scale, ``rint(x / full_scale * 2**(adc_bits - 1))`` (round half to even,
I and Q apart), and saturated to ``[-2**(adc_bits-1), 2**(adc_bits-1) - 1]``
like the ADC model (:func:`amaradar.sim.world.scenario.receive_iq`); each I or Q
part that saturates counts as clipped.

Everything wrong with a recording is a :class:`RecordingError`: one line, the
path of the metadata file first.
"""

import json
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..sim.world.scenario import MAX_CPIS, ScenarioError, parse_scenario
from .site import Site, SiteError, format_utc, parse_site

__all__ = ["RecordingError", "RecordingSource", "RecordingWriter", "EXTENSION", "EXTENSION_VERSION", "TIMING_KEYS",
           "integer_datatype", "write_recording", "scenario_from_recording", "recording_site"]

EXTENSION = "amaradar"
EXTENSION_VERSION = "1.0.0"
#: Radar keys of the extension that a scenario given beside it must agree with.
TIMING_KEYS = ("pri_s", "pulse_width_s", "bandwidth_hz", "waveform", "pulses_per_cpi", "adc_bits")
#: Further radar keys of the extension (the run's processing and simulation).
_RADAR_KEYS = TIMING_KEYS + ("window", "cpis", "noise_rms_lsb", "noise_seed")
_NS = EXTENSION + ":"
_SUPPORTED = ("ci8", "ci16_le", "ci16_be", "ci32_le", "ci32_be", "cf32_le", "cf32_be",
              "cf64_le", "cf64_be")
_DATATYPE = re.compile(r"^c([if])(8|16|32|64)(?:_(le|be))?$")


class RecordingError(ValueError):
    """A recording that cannot be read or used; the message is one line."""


def integer_datatype(adc_bits):
    """The smallest SigMF complex integer datatype that holds ``adc_bits``-bit samples."""
    if adc_bits <= 8:
        return "ci8"
    return "ci16_le" if adc_bits <= 16 else "ci32_le"


def _sigmf():
    import sigmf
    return sigmf


# --- writing -------------------------------------------------------------------------------

def _recorder():
    from importlib.metadata import PackageNotFoundError, version
    try:
        return f"amaradar {version('amaradar')}"
    except PackageNotFoundError:
        return "amaradar"


def _check_iq(iq, radar, lines):
    iq = np.asarray(iq)
    expected = (lines, radar.line_samples)
    if iq.shape != expected:
        raise ValueError(f"iq must have shape {expected} (lines x line_samples), not {iq.shape}")
    parts = np.stack([iq.real, iq.imag]).astype(np.float64)
    full = 1 << (radar.adc_bits - 1)
    if not np.all(np.isfinite(parts)) or np.any(parts != np.rint(parts)):
        raise ValueError("iq must hold whole numbers (ADC samples)")
    if parts.size and (parts.min() < -full or parts.max() > full - 1):
        raise ValueError(f"iq must fit adc_bits = {radar.adc_bits} ({-full} to {full - 1}), "
                         f"not {parts.min():.0f} to {parts.max():.0f}")
    return parts


def _extension_globals(scenario, site):
    r = scenario.radar
    doc = scenario.as_dict()
    out = {_NS + key: getattr(r, key) for key in _RADAR_KEYS}
    out[_NS + "cfar"] = doc["cfar"]
    if "doppler" in doc:
        out[_NS + "doppler"] = doc["doppler"]
    out[_NS + "targets"] = doc["target"]
    out[_NS + "clutter"] = doc.get("clutter", [])
    out[_NS + "site"] = site.as_dict()
    return out


def write_recording(path_stem, scenario, iq, site=None):
    """Write ``iq`` (the ADC samples of ``scenario``) as a SigMF recording.

    Parameters
    ----------
    path_stem : str or Path
        ``<stem>``: writes ``<stem>.sigmf-meta`` and ``<stem>.sigmf-data``
        (replacing them).
    scenario : Scenario
        The scenario the samples belong to.
    iq : ndarray, shape (radar.lines, radar.line_samples)
        Complex ADC samples with whole-number parts within ``adc_bits``.
    site : Site, optional
        Position and start time (default: :class:`~.site.Site`'s defaults).

    Returns
    -------
    meta_path, data_path : Path

    Raises ``ValueError`` when ``iq`` has the wrong shape or is not ADC samples.
    """
    _check_iq(iq, scenario.radar, scenario.radar.lines)
    recording = RecordingWriter(path_stem, scenario, site)
    try:
        recording.append(iq)
    finally:
        recording.close()
    return recording.finish()


class RecordingWriter:
    """A SigMF recording (the layout of :func:`write_recording`) written block by
    block: :meth:`append` each block of whole CPIs in order, then :meth:`finish`
    writes the metadata (and its ``core:sha512`` of the data file)."""

    def __init__(self, path_stem, scenario, site=None):
        names = _sigmf().sigmffile.get_sigmf_filenames(path_stem)
        self.meta_path, self.data_path = names["meta_fn"], names["data_fn"]
        self.scenario = scenario
        self.site = Site() if site is None else site
        self.lines = 0
        r = scenario.radar
        self._component = np.dtype({"ci8": "i1", "ci16_le": "<i2", "ci32_le": "<i4"}[
            integer_datatype(r.adc_bits)])
        self.data_path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.data_path, "wb")

    def append(self, iq):
        """Add the next range lines (whole CPIs) of the run; ``ValueError`` when ``iq``
        is not ADC samples of whole CPIs of ``line_samples``."""
        r = self.scenario.radar
        if len(iq) % r.pulses_per_cpi or self.lines + len(iq) > r.lines:
            raise ValueError(f"iq must be whole CPIs of the run's {r.lines} lines, not "
                             f"{len(iq)} lines after {self.lines}")
        parts = _check_iq(iq, r, len(iq))
        interleaved = np.empty(2 * parts[0].size, dtype=self._component)
        interleaved[0::2] = parts[0].ravel()
        interleaved[1::2] = parts[1].ravel()
        interleaved.tofile(self._file)
        self.lines += len(iq)

    def close(self):
        """Close the data file (:meth:`finish` does it too)."""
        self._file.close()

    def finish(self):
        """Close the data file and write the metadata; returns ``(meta_path, data_path)``."""
        self.close()
        sigmf, r, site = _sigmf(), self.scenario.radar, self.site
        if self.lines != r.lines:
            raise ValueError(f"the recording holds {self.lines} of the run's {r.lines} lines")
        m, length = r.pulses_per_cpi, r.line_samples
        info = {
            sigmf.DATATYPE_KEY: integer_datatype(r.adc_bits),
            sigmf.SAMPLE_RATE_KEY: r.sample_rate_hz,
            sigmf.NUM_CHANNELS_KEY: 1,
            sigmf.RECORDER_KEY: _recorder(),
            sigmf.DESCRIPTION_KEY: (f"ADC samples of radar site {site.name!r}: {r.cpis} CPIs of {m} "
                                    f"range lines of {length} samples, {r.adc_bits}-bit"),
            sigmf.GEOLOCATION_KEY: {"type": "Point", "coordinates": [
                site.longitude_deg, site.latitude_deg, site.altitude_m]},
            sigmf.EXTENSIONS_KEY: [{"name": EXTENSION, "version": EXTENSION_VERSION,
                                    "optional": True}],
        }
        info.update(_extension_globals(self.scenario, site))
        meta = sigmf.SigMFFile(data_file=self.data_path, global_info=info)
        meta.add_capture(0, metadata={sigmf.FREQUENCY_KEY: r.carrier_hz,
                                      sigmf.DATETIME_KEY: format_utc(site.first_pulse_utc)})
        for cpi in range(r.cpis):
            meta.add_annotation(cpi * m * length, m * length, metadata={
                sigmf.LABEL_KEY: f"CPI {cpi}", _NS + "cpi": cpi,
                _NS + "time_s": cpi * m * r.pri_s})
        meta.tofile(self.meta_path, overwrite=True)  # validates against the SigMF schema first
        return self.meta_path, self.data_path


# --- reading -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Recording:
    """A recording's checked metadata: where its samples are and how to read them."""
    meta_path: Path
    data_path: Path
    meta: dict
    component: np.dtype     # numpy type of one I or Q part
    is_float: bool
    offset: int             # bytes before the first sample
    samples: int            # complex samples in the data file
    sample_rate: float
    frequency: float        # Hz, None when the recording gives none

    def fail(self, what):
        raise RecordingError(f"{self.meta_path}: {what}")

    @property
    def extension(self):
        """The ``amaradar:`` global keys without their prefix (None if there are none)."""
        ext = {key[len(_NS):]: value for key, value in self.meta["global"].items()
               if key.startswith(_NS)}
        return ext or None


def _one_line(text):
    return " ".join(str(text).split())


def _read_metadata(meta_path, fail):
    """The metadata file's JSON, checked against the SigMF schema."""
    sigmf = _sigmf()
    import jsonschema
    try:
        text = meta_path.read_text(encoding="utf-8")
    except OSError as e:
        fail(f"cannot read the SigMF metadata: {e.strerror}")
    except UnicodeDecodeError:
        fail("malformed SigMF metadata: not UTF-8 text")
    try:
        meta = json.loads(text)
    except json.JSONDecodeError as e:
        fail(f"malformed SigMF metadata: {e.msg} at line {e.lineno} column {e.colno}")
    if not isinstance(meta, dict) or not isinstance(meta.get("global"), dict):
        fail("malformed SigMF metadata: no \"global\" object")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sigmf.validate.validate(meta, sigmf.schema.get_schema())
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path)
        fail(f"malformed SigMF metadata: {_one_line(e.message)}" + (f" (at {where})" if where else ""))
    return meta


def _sample_format(meta, fail):
    """``(component dtype, is_float, sample_rate, frequency or None)`` of the metadata."""
    sigmf = _sigmf()
    g = meta["global"]
    datatype = g[sigmf.DATATYPE_KEY]
    match = _DATATYPE.match(datatype)
    if datatype not in _SUPPORTED or match is None:
        fail(f"unsupported core:datatype {datatype!r} (supported: {', '.join(_SUPPORTED)})")
    kind, bits, endian = match.groups()
    component = np.dtype(f"{'>' if endian == 'be' else '<'}{kind}{int(bits) // 8}")
    channels = g.get(sigmf.NUM_CHANNELS_KEY, 1)
    if channels != 1:
        fail(f"core:num_channels is {channels}; only single-channel recordings can be read")
    sample_rate = g.get(sigmf.SAMPLE_RATE_KEY)
    if sample_rate is None:
        fail("no core:sample_rate in the metadata")
    frequencies = sorted({c[sigmf.FREQUENCY_KEY] for c in meta.get("captures", [])
                          if sigmf.FREQUENCY_KEY in c})
    if len(frequencies) > 1:
        fail(f"captures at several core:frequency values ({', '.join(map(repr, frequencies))}); "
             "one carrier is needed")
    return component, kind == "f", float(sample_rate), \
        float(frequencies[0]) if frequencies else None


def _data_file(meta_path, meta, fail):
    """``(path, byte offset, samples)`` of the data file, its checksum checked."""
    sigmf = _sigmf()
    try:
        data_path = sigmf.sigmffile.get_dataset_filename_from_metadata(meta_path, meta)
    except sigmf.error.SigMFError as e:
        fail(f"missing data file: {_one_line(e)}")
    if data_path is None:
        fail(f"missing data file {sigmf.sigmffile.get_sigmf_filenames(meta_path)['data_fn']}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            handle = sigmf.SigMFFile(metadata=meta, data_file=data_path)
    except sigmf.error.SigMFError as e:
        message = _one_line(e)
        if "hash" in message:
            message = f"data file {data_path} does not match core:sha512"
        fail(message)
    except OSError as e:
        fail(f"cannot read data file {data_path}: {e.strerror}")
    return Path(data_path), int(getattr(handle, "data_offset", 0) or 0), int(handle.sample_count)


def _open(path):
    """Read and check the recording at ``path`` (its metadata file, data file or stem)."""
    meta_path = _sigmf().sigmffile.get_sigmf_filenames(path)["meta_fn"]

    def fail(what):
        raise RecordingError(f"{meta_path}: {what}")
    meta = _read_metadata(meta_path, fail)
    component, is_float, sample_rate, frequency = _sample_format(meta, fail)
    data_path, offset, samples = _data_file(meta_path, meta, fail)
    return _Recording(meta_path=meta_path, data_path=data_path, meta=meta, component=component,
                      is_float=is_float, offset=offset, samples=samples,
                      sample_rate=sample_rate, frequency=frequency)


def _same(a, b):
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b))
    return math.isclose(a, b, rel_tol=1e-9) if numbers else a == b


def _scenario_document(rec, scenario):
    """The scenario document of ``rec`` (see the module docstring), before ``cpis`` is cut."""
    ext = rec.extension
    if scenario is None:
        if ext is None:
            rec.fail("no amaradar extension in the metadata; give a scenario for the radar's timing")
        for key in TIMING_KEYS + ("cfar",):
            if key not in ext:
                rec.fail(f"the amaradar extension has no amaradar:{key}; give a scenario")
        radar = {key: ext[key] for key in _RADAR_KEYS if key in ext}
        if "cpis" not in radar:          # as many as the recording holds
            per_cpi = _cpi_samples(rec, ext)
            radar["cpis"] = min(MAX_CPIS, max(1, rec.samples // per_cpi)) if per_cpi else 1
        radar.setdefault("noise_seed", 0)
        radar["sample_rate_hz"] = rec.sample_rate
        if rec.frequency is None:
            rec.fail("no core:frequency in the captures: the carrier is unknown")
        radar["carrier_hz"] = rec.frequency
        doc = {"radar": radar, "cfar": ext["cfar"], "target": ext.get("targets", []),
               "clutter": ext.get("clutter", [])}
        if ext.get("doppler") is not None:
            doc["doppler"] = ext["doppler"]
        return doc
    r = scenario.radar
    if not _same(rec.sample_rate, r.sample_rate_hz):
        rec.fail(f"core:sample_rate = {rec.sample_rate!r} Hz differs from the scenario's "
                 f"radar.sample_rate_hz = {r.sample_rate_hz!r}")
    for key in TIMING_KEYS:
        if ext is not None and key in ext and not _same(ext[key], getattr(r, key)):
            rec.fail(f"amaradar:{key} = {ext[key]!r} differs from the scenario's "
                     f"radar.{key} = {getattr(r, key)!r}")
    doc = scenario.as_dict()
    if rec.frequency is not None:
        doc["radar"]["carrier_hz"] = rec.frequency
    return doc


def _cpi_samples(rec, ext):
    pri, m = ext.get("pri_s"), ext.get("pulses_per_cpi")
    if not isinstance(pri, (int, float)) or not isinstance(m, int):
        return 0
    return round(pri * rec.sample_rate) * m


def _effective_scenario(rec, scenario):
    doc = _scenario_document(rec, scenario)
    try:
        parsed = parse_scenario(doc)
    except ScenarioError as e:
        rec.fail(f"{'scenario' if scenario is not None else 'amaradar extension'}: {e}")
    r = parsed.radar
    per_cpi = r.pulses_per_cpi * r.line_samples
    available = rec.samples // per_cpi
    if available == 0:
        rec.fail(f"{rec.samples} samples are fewer than one CPI ({r.pulses_per_cpi} lines x "
                 f"{r.line_samples} samples = {per_cpi})")
    if available < r.cpis:
        doc["radar"]["cpis"] = available
        try:
            parsed = parse_scenario(doc)
        except ScenarioError as e:
            rec.fail(f"with {available} CPIs: {e}")
    return parsed


def scenario_from_recording(meta_path):
    """The scenario a recording with the ``amaradar`` extension needs to run alone.

    Radar timing, waveform, window, CFAR and Doppler settings from the extension,
    sample rate and carrier from the recording, the recorded truth as the targets
    and clutter, and as many CPIs as the recording holds (at most
    ``amaradar:cpis``). Raises :class:`RecordingError` when the recording has no
    extension or the scenario it describes is not valid.
    """
    return _effective_scenario(_open(meta_path), None)


def recording_site(meta_path):
    """The :class:`~.site.Site` a recording was made at (``amaradar:site``), or None."""
    rec = _open(meta_path)
    table = (rec.extension or {}).get("site")
    if table is None:
        return None
    try:
        return parse_site(table)
    except SiteError as e:
        rec.fail(f"amaradar:site: {e}")


class RecordingSource:
    """ADC samples from a SigMF recording (an IQ source like
    :class:`~amaradar.host.sources.ScenarioSource`).

    Parameters
    ----------
    meta_path : str or Path
        The recording's ``.sigmf-meta`` file (or its stem, or its ``.sigmf-data``).
    scenario : Scenario, optional
        Gives the radar's timing when the recording has no ``amaradar``
        extension, and the matched-filter window, CFAR, Doppler and truth
        settings; when the extension is there too, its timing keys
        (:data:`TIMING_KEYS`) must agree. None: the recording's own
        scenario (:func:`scenario_from_recording`).
    full_scale : float
        The complex float value that is the ADC's full scale (float recordings
        only).

    Members
    -------
    scenario : Scenario
        What the run needs: the given scenario (or the recording's) with the
        recording's sample rate and carrier and the CPIs it holds.

    Raises :class:`RecordingError` for every problem with the recording (see the
    module docstring), ``TypeError``/``ValueError`` for a bad ``full_scale``.
    """

    name = "sigmf"

    def __init__(self, meta_path, scenario=None, full_scale=1.0):
        if not isinstance(full_scale, (int, float)) or isinstance(full_scale, bool):
            raise TypeError(f"full_scale must be a number, not {full_scale!r}")
        if not (math.isfinite(full_scale) and full_scale > 0):
            raise ValueError(f"full_scale must be a finite number > 0, not {full_scale!r}")
        self.full_scale = float(full_scale)
        self._recording = _open(meta_path)
        self.meta_path = self._recording.meta_path
        self.scenario = _effective_scenario(self._recording, scenario)

    def read(self, first_cpi=0, cpis=None):
        """``(iq, clipped)``: the samples of ``cpis`` CPIs from CPI ``first_cpi`` (default:
        all) as ``cpis * pulses_per_cpi`` x ``line_samples`` complex integers (complex128)
        and the count of I or Q parts that saturated."""
        rec, r = self._recording, self.scenario.radar
        cpis = r.cpis - first_cpi if cpis is None else cpis
        per_cpi = r.pulses_per_cpi * r.line_samples
        count, skip = cpis * per_cpi, first_cpi * per_cpi
        try:
            raw = np.fromfile(rec.data_path, dtype=rec.component, count=2 * count,
                              offset=rec.offset + 2 * skip * rec.component.itemsize)
        except OSError as e:
            rec.fail(f"cannot read data file {rec.data_path}: {e.strerror}")
        if raw.size < 2 * count:
            rec.fail(f"data file {rec.data_path} ended after {skip + raw.size // 2} of "
                     f"{r.lines * r.line_samples} samples")
        parts = raw.reshape(count, 2).T.astype(np.float64)
        full = 1 << (r.adc_bits - 1)
        if rec.is_float:
            if not np.all(np.isfinite(parts)):
                index = skip + int(np.argmin(np.all(np.isfinite(parts), axis=0)))
                rec.fail(f"sample {index} is not a finite number")
            rounded = np.rint(parts / self.full_scale * full)
            high = rounded > full - 1
            low = rounded < -full
            clipped = int(np.count_nonzero(high | low))
            parts = np.clip(rounded, -full, full - 1)
        else:
            bad = (parts < -full) | (parts > full - 1)
            if np.any(bad):
                column = int(np.argmax(np.any(bad, axis=0)))
                i, q = parts[:, column]
                index = skip + column
                rec.fail(f"sample {index} ({i:.0f}, {q:.0f}) does not fit adc_bits = "
                         f"{r.adc_bits} ({-full} to {full - 1})")
            clipped = 0
        iq = (parts[0] + 1j * parts[1]).reshape(cpis * r.pulses_per_cpi, r.line_samples)
        return iq, clipped
