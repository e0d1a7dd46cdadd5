"""The built-in scenario as tests take it: as a TOML document, whole or range-only, and
back to TOML text."""

import tomllib

from amaradar.sim.world.scenario import default_scenario_text

RANGE_DOPPLER_TABLES = ("doppler", "tracker")


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
