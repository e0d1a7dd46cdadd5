"""No traceback from any scenario: documents made by changing, deleting and adding keys
and tables of the built-in scenario either become a scenario whose chain (and tracker)
is built and runs in the models, or are refused with one line (ScenarioError)."""

import math

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from amaradar.sim.chain import reference_chain, scenario_chain_config
from amaradar.sim.tracking import plot_frames, reference_tracks, tracker_config
from amaradar.sim.world.scenario import ScenarioError, parse_scenario, receive_iq
from scenarios import builtin_doc

# Small enough to run the models on in a test: the built-in scenario at one CPI.
RUN_SAMPLES = 200_000

VALUES = st.one_of(
    st.integers(-(1 << 40), 1 << 40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, -1, 2, 3, 4, 8, 16, 0.5, 1e-300, 1e300, 1e-12, 4000.0, 1 << 31,
                     "", "x", "ca", "os", "go", "so", "lfm", "barker13", "hamming", "rect",
                     "two_pulse", "three_pulse", True, False]),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.sampled_from(["a", "range_m"]), st.integers(0, 3), max_size=1),
)
FACTORS = (0, -1, 0.5, 0.9, 1.1, 2, 3, 10, 100, 1e6)
TABLES = ("radar", "cfar", "doppler", "tracker", "target", "clutter", "site")


def _table(doc, name, index):
    """The table ``name`` of ``doc`` to change (an array's element ``index``), made if
    missing; None when it is not a table (then it is replaced whole)."""
    if name in ("target", "clutter"):
        array = doc.setdefault(name, [])
        if not isinstance(array, list):
            return None
        if not array:
            array.append({"range_start_m": 8000.0, "range_stop_m": 9000.0, "cnr_db": 20.0}
                         if name == "clutter" else {})
        return array[index % len(array)] if isinstance(array[index % len(array)], dict) else None
    table = doc.setdefault(name, {})
    return table if isinstance(table, dict) else None


@st.composite
def documents(draw):
    doc = builtin_doc(doppler=draw(st.booleans()))
    doc["radar"]["cpis"] = 1
    for _ in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from(TABLES))
        if draw(st.integers(0, 29)) == 29:
            name = "bogus"
        if draw(st.integers(0, 29)) == 29:
            doc[name] = draw(VALUES)                     # a table replaced by a value
            continue
        table = _table(doc, name, draw(st.integers(0, 3)))
        if table is None:
            continue
        key = draw(st.sampled_from(sorted(table) or ["bogus_key"]))
        if draw(st.integers(0, 19)) == 19:
            key = "bogus_key"
        how = draw(st.integers(0, 9))
        if how == 9:
            table.pop(key, None)
        elif how < 6 and isinstance(table.get(key), (int, float)) \
                and not isinstance(table[key], bool):
            table[key] = _near(table[key], draw(st.sampled_from(FACTORS)))
        else:
            table[key] = draw(VALUES)
    return doc


def _near(value, factor):
    """A plausible change of a number: scaled (an int stays an int)."""
    scaled = value * factor
    return int(scaled) if isinstance(value, int) else float(scaled)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_any_document_is_a_scenario_or_one_line(doc):
    try:
        scenario = parse_scenario(doc)
        config = scenario_chain_config(scenario)
    except ScenarioError as e:
        assert "\n" not in str(e) and str(e)
        event("refused")
        return
    event("built")
    r = scenario.radar
    if r.lines * r.line_samples > RUN_SAMPLES:
        return
    event("ran")
    iq, _ = receive_iq(scenario)
    result = reference_chain(config, iq)
    assert all(math.isfinite(float(v)) for v in result.status.values())
    if scenario.tracker is not None:
        reference_tracks(tracker_config(r, scenario.tracker), scenario.tracker.runtime(),
                         plot_frames(result.detections, r.cpis))
