"""The scenarios tests share: the built-in one as a TOML document, whole or range-only,
and back to TOML text; a small range-only one."""

import tomllib

from amaradar.sim.world.scenario import default_scenario_text

RANGE_DOPPLER_TABLES = ("doppler", "tracker")

#: A small range-only scenario: 2 CPIs of 3 lines of 120 samples, a 16-sample LFM
#: (the FIR compressor), two targets.
SMALL = """
[radar]
sample_rate_hz = 10e6
bandwidth_hz = 5e6
pulse_width_s = 1.6e-6
pri_s = 12e-6
carrier_hz = 435e6
pulses_per_cpi = 3
cpis = 2
adc_bits = 10
noise_seed = 7
waveform = "lfm"
noise_rms_lsb = 6.0
window = "hamming"

[cfar]
reference_cells = 4
guard_cells = 2
pfa = 1e-2

[[target]]
range_m = 800.0
radial_velocity_mps = -900.0
snr_db = 12.0

[[target]]
range_m = 1250.0
radial_velocity_mps = 300.0
snr_db = 6.0
"""

#: SMALL with 3 CPIs of 3 lines of 200 samples and a 64-sample LFM (the FFT compressor
#: when asked for, n = 256).
SMALL_LONG_PULSE = SMALL.replace("pulse_width_s = 1.6e-6", "pulse_width_s = 6.4e-6").replace(
    "pri_s = 12e-6", "pri_s = 20e-6").replace("range_m = 800.0", "range_m = 1300.0").replace(
    "range_m = 1250.0", "range_m = 1900.0").replace("cpis = 2", "cpis = 3")

#: A small range-Doppler scenario: 3 CPIs of 8 lines of 60 samples.
SMALL_DOPPLER = SMALL.replace("pulses_per_cpi = 3", "pulses_per_cpi = 8").replace(
    "pri_s = 12e-6", "pri_s = 6e-6").replace("range_m = 1250.0", "range_m = 500.0").replace(
    "cpis = 2", "cpis = 3") + """
[doppler]
window = "hamming"
mti = "none"
"""


def builtin_doc(*, doppler=True):
    """The built-in scenario's document; ``doppler=False``: without its range-Doppler
    tables (``[doppler]``, ``[tracker]``), i.e. the range-only chain."""
    doc = tomllib.loads(default_scenario_text())
    if not doppler:
        for table in RANGE_DOPPLER_TABLES:
            doc.pop(table, None)
    return doc


def _value(v):
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, bool):
        return str(v).lower()
    return repr(v)


def toml_text(doc):
    """A scenario document as TOML text: its tables, then its arrays of tables."""
    lines = []
    for name, table in doc.items():
        if isinstance(table, dict):
            lines.append(f"[{name}]")
            lines += [f"{k} = {_value(v)}" for k, v in table.items()]
    for name, array in doc.items():
        if isinstance(array, list):
            for table in array:
                lines.append(f"[[{name}]]")
                lines += [f"{k} = {_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"
