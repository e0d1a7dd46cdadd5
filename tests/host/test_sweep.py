"""`amaradar sweep`: the sweep file, bad input, the results' columns, the theory.

The cluster tests (a killed worker, a separate scheduler) are in
``test_sweep_cluster.py``; they share :func:`write_sweep`.
"""

import numpy as np
import pytest
from distributed import Client, LocalCluster

from amaradar.cli import main
from amaradar.host.sweep import run_sweep
from amaradar.host.sweep_file import FIGURES, SweepError, load_sweep
from amaradar.host.sweep_task import OSPA_CUTOFF_CELLS
from amaradar.host.sweep_theory import cfar_pd, swerling0_pd, swerling1_pd, swerling1_pd_given
from amaradar.sim.models.detect.cfar import cfar_alpha, cfar_pfa
from amaradar.sim.world.scenario import parse_scenario, target_fluctuation

SCENARIO = """
[radar]
sample_rate_hz = 1e6
bandwidth_hz = 1e6
pulse_width_s = 13e-6
pri_s = 2e-4
carrier_hz = 435e6
pulses_per_cpi = 8
cpis = {cpis}
adc_bits = 12
noise_seed = 5
waveform = "barker13"
window = "rect"

[doppler]
window = "rect"

[cfar]
reference_cells = 4
guard_cells = 1
pfa = 1e-3

[[target]]
range_m = 15000.0
radial_velocity_mps = 0.0
snr_db = -8.0
"""

SWEEP = """
base = "base.toml"
runs = {runs}
figures = ["pfa", "pd"]

[grid]
"cfar.type" = ["ca", "os"]
"target.0.snr_db" = [-12.0, -6.0]
"""

COLUMNS = ["cfar.type", "target.0.snr_db", "runs", "cells",
           "pfa", "pfa_lo", "pfa_hi", "pd", "pd_lo", "pd_hi"]


def write_sweep(folder, *, runs=2, cpis=2, sweep=SWEEP):
    """Write ``base.toml`` and ``sweep.toml`` into ``folder``; the sweep file's path."""
    (folder / "base.toml").write_text(SCENARIO.format(cpis=cpis))
    path = folder / "sweep.toml"
    path.write_text(sweep.format(runs=runs))
    return path


def test_grid_points_and_seeds(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, runs=3))
    assert sweep.points() == [("ca", -12.0), ("ca", -6.0), ("os", -12.0), ("os", -6.0)]
    doc = sweep.scenario_doc(("os", -6.0), 2)
    assert doc["cfar"]["type"] == "os" and doc["target"][0]["snr_db"] == -6.0
    assert doc["radar"]["noise_seed"] == 5 + 2
    assert sweep.base["cfar"].get("type") is None       # the base is left as it was
    assert sweep.columns == COLUMNS


def test_inline_base_table(tmp_path):
    base = SCENARIO.format(cpis=2).replace("[radar]", "[base.radar]").replace(
        "[doppler]", "[base.doppler]").replace("[cfar]", "[base.cfar]").replace(
        "[[target]]", "[[base.target]]")
    path = tmp_path / "inline.toml"
    path.write_text('runs = 1\nfigures = ["pd"]\n[grid]\n"cfar.pfa" = [1e-3, 1e-4]\n' + base)
    assert load_sweep(path).scenario_doc((1e-4,), 0)["cfar"]["pfa"] == 1e-4


BAD = [
    ("unknown key", SWEEP.replace("runs =", "seeds = 3\nruns ="), "unknown key 'seeds'"),
    ("empty grid", SWEEP.split("[grid]")[0] + "[grid]\n", "grid must be a table of at least one key"),
    ("empty values", SWEEP.replace('["ca", "os"]', "[]"), "must be a non-empty list"),
    ("unknown scenario key", SWEEP.replace('"cfar.type"', '"cfar.kind"'), "unknown key cfar.kind"),
    ("missing target", SWEEP.replace("target.0", "target.3"), "'target.3' is not one of the 1"),
    ("bad value", SWEEP.replace('["ca", "os"]', '["ca", "xx"]'), "cfar.type must be one of"),
    ("bad figure", SWEEP.replace('"pd"]', '"roc"]'), "figures must be a non-empty list"),
]


@pytest.mark.parametrize("name, text, message", BAD, ids=[b[0] for b in BAD])
def test_bad_sweep_file_is_one_line_exit_2_nothing_written(tmp_path, capsys, name, text, message):
    path = write_sweep(tmp_path, sweep=text)
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not out.exists()
    with pytest.raises(SweepError):
        load_sweep(path)


def test_bad_scheduler_address_is_one_line_exit_2_nothing_written(tmp_path, capsys):
    out = tmp_path / "out"
    status = main(["sweep", str(write_sweep(tmp_path)), "--out", str(out),
                   "--scheduler", "tcp://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1 and "--scheduler 'tcp://127.0.0.1:9'" in err, err
    assert not out.exists()


def test_bad_workers_is_one_line_exit_2(tmp_path, capsys):
    assert main(["sweep", str(write_sweep(tmp_path)), "--out", str(tmp_path / "o"),
                 "--workers", "0"]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("cfar_type, os_k", [("ca", None), ("go", None), ("so", None), ("os", 12)])
def test_swerling0_pd_is_pfa_without_signal_and_grows(cfar_type, os_k):
    alpha = cfar_alpha(cfar_type, 1e-4, 16, os_k=os_k)
    assert swerling0_pd(0.0, cfar_type, alpha, 16, os_k=os_k) == pytest.approx(
        cfar_pfa(cfar_type, alpha, 16, os_k=os_k), rel=1e-6)
    pd = [swerling0_pd(10 ** (db / 10), cfar_type, alpha, 16, os_k=os_k) for db in (5, 10, 15, 20)]
    assert all(a < b for a, b in zip(pd, pd[1:])) and pd[-1] > 0.95


def test_swerling0_pd_without_cfar_loss_is_marcum_q():
    # CA with very many reference cells tends to the fixed threshold -ln(Pfa):
    # Pfa 1e-6, Pd 0.5 needs 11.2 dB (Albersheim's approximation gives 11.1 dB)
    alpha = cfar_alpha("ca", 1e-6, 4096)
    assert swerling0_pd(10 ** 1.12, "ca", alpha, 4096) == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize("snr_db", [0.0, 5.0, 13.0, 20.0])
def test_swerling1_pd_equals_the_closed_forms(snr_db):
    """CA: (1 + alpha / (n (1 + s)))**-n; OS (Rohling): prod_{i<k} (n - i) / (n - i +
    alpha / (1 + s)); the numerical integral matches both."""
    s, n, k = 10 ** (snr_db / 10), 16, 12
    alpha = cfar_alpha("ca", 1e-4, n)
    assert swerling1_pd(s, "ca", alpha, n) == pytest.approx(
        (1 + alpha / (n * (1 + s))) ** -n, rel=1e-6)
    alpha = cfar_alpha("os", 1e-4, n, os_k=k)
    rohling = np.prod([(n - i) / (n - i + alpha / (1 + s)) for i in range(k)])
    assert swerling1_pd(s, "os", alpha, n, os_k=k) == pytest.approx(rohling, rel=1e-6)
    assert cfar_pd(s, "os", alpha, n, os_k=k, swerling=1) == swerling1_pd(s, "os", alpha, n,
                                                                          os_k=k)
    with pytest.raises(ValueError, match="swerling must be 0 or 1, not 3"):
        cfar_pd(s, "ca", alpha, n, swerling=3)


@pytest.mark.parametrize("cfar_type, os_k", [("ca", None), ("os", 12)])
def test_swerling1_pd_given_the_draws(cfar_type, os_k):
    """The mean of the Swerling 0 Pd over the powers drawn: exact on a few powers (to
    the interpolation's 1e-4), the Swerling 1 law's on its quantiles, and the
    Swerling 0 Pd when every power is 1."""
    n, s = 16, 10 ** 1.2
    alpha = cfar_alpha(cfar_type, 1e-4, n, os_k=os_k)
    powers = np.array([0.0, 0.05, 0.4, 1.0, 2.5, 7.0])
    exact = np.mean([swerling0_pd(s * p, cfar_type, alpha, n, os_k=os_k) for p in powers])
    assert swerling1_pd_given(s, powers, cfar_type, alpha, n, os_k=os_k) == pytest.approx(
        exact, abs=1e-4)
    quantiles = -np.log1p(-(np.arange(4000) + 0.5) / 4000)     # of the exponential law
    assert swerling1_pd_given(s, quantiles, cfar_type, alpha, n, os_k=os_k) == pytest.approx(
        swerling1_pd(s, cfar_type, alpha, n, os_k=os_k), abs=2e-3)
    assert swerling1_pd_given(s, np.ones(3), cfar_type, alpha, n, os_k=os_k) == pytest.approx(
        swerling0_pd(s, cfar_type, alpha, n, os_k=os_k), abs=1e-6)
    with pytest.raises(ValueError, match="powers must hold at least one look"):
        swerling1_pd_given(s, [], cfar_type, alpha, n, os_k=os_k)


@pytest.fixture(scope="module")
def one_worker():
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def test_results_columns_and_report(tmp_path, one_worker):
    import pyarrow.parquet as pq
    sweep = load_sweep(write_sweep(tmp_path, runs=2))
    report = run_sweep(sweep, client=one_worker, out_dir=tmp_path / "out", progress=False)
    table = pq.read_table(tmp_path / "out" / "results.parquet")
    assert table.column_names == COLUMNS
    rows = table.to_pylist()
    assert sorted((r["cfar.type"], r["target.0.snr_db"]) for r in rows) == sweep.points()
    for r in rows:
        assert r["runs"] == 2 and r["cells"] > 0
        for f in ("pd", "pfa"):
            assert 0 <= r[f"{f}_lo"] <= r[f] <= r[f"{f}_hi"] <= 1
    assert report["points"] == {"total": 4, "computed": 4, "skipped": 0}
    assert report["checks"]["pd_points"] == 4 and report["bit_exact"] is None
    assert (tmp_path / "out" / "pd_vs_snr.png").read_bytes()[:4] == b"\x89PNG"


def test_out_folder_of_another_sweep_is_one_line_exit_2(tmp_path, capsys, one_worker):
    sweep = load_sweep(write_sweep(tmp_path, runs=1))
    out = tmp_path / "out"
    run_sweep(sweep, client=one_worker, out_dir=out, progress=False)
    before = (out / "results.parquet").read_bytes()
    other = write_sweep(tmp_path, sweep=SWEEP.replace('["pfa", "pd"]', '["pd"]'))
    assert main(["sweep", str(other), "--out", str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds another sweep" in err, err
    assert (out / "results.parquet").read_bytes() == before
    more_runs = write_sweep(tmp_path, runs=3)
    assert main(["sweep", str(more_runs), "--out", str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds points of 1 runs, this sweep has 3" in err, err
    assert (out / "results.parquet").read_bytes() == before


def test_rtl_engine_records_bit_exact_tasks(tmp_path, one_worker):
    import pyarrow.parquet as pq
    one_point = SWEEP.replace('["ca", "os"]', '["so"]').replace("[-12.0, -6.0]", "[-6.0]")
    sweep = load_sweep(write_sweep(tmp_path, runs=1, sweep=one_point))
    report = run_sweep(sweep, client=one_worker, out_dir=tmp_path / "out", engine="rtl",
                       progress=False)
    assert report["bit_exact"] == {"tasks": 1, "bit_exact": 1, "all": True}
    tasks = pq.read_table(tmp_path / "out" / "tasks.parquet").to_pylist()
    assert [t["bit_exact"] for t in tasks] == [True]


def test_every_figure_has_a_value_and_an_interval(tmp_path, one_worker):
    import pyarrow.parquet as pq
    every = SWEEP.replace('["pfa", "pd"]', str(list(FIGURES)).replace("'", '"')).replace(
        '["ca", "os"]', '["ca"]').replace("[-12.0, -6.0]", "[0.0]")
    sweep = load_sweep(write_sweep(tmp_path, runs=2, cpis=4, sweep=every))
    run_sweep(sweep, client=one_worker, out_dir=tmp_path / "out", progress=False)
    row, = pq.read_table(tmp_path / "out" / "results.parquet").to_pylist()
    assert row["pd"] == 1.0                        # 0 dB a sample: 20 dB after 13 x 8
    for f in FIGURES:
        assert row[f"{f}_lo"] <= row[f] <= row[f"{f}_hi"], f
    assert 0 < row["plot_rms_range"] < 150.0       # within a range cell (150 m)
    assert 0 <= row["ospa"] <= OSPA_CUTOFF_CELLS and row["gospa"] >= 0
    assert (tmp_path / "out" / "ospa.png").read_bytes()[:4] == b"\x89PNG"


def test_swerling1_points_carry_the_theory_given_their_draws(tmp_path, one_worker):
    """A Swerling 1 point's report row holds the theory given the amplitudes its runs
    drew (the runs' own fluctuation streams, every CPI a look), a Swerling 0 point's
    does not."""
    sweep_text = SWEEP.replace('"cfar.type" = ["ca", "os"]', '"cfar.type" = ["ca"]\n'
                               '"target.0.swerling" = [0, 1]').replace("[-12.0, -6.0]", "[-9.0]")
    sweep = load_sweep(write_sweep(tmp_path, runs=2, cpis=3, sweep=sweep_text))
    report = run_sweep(sweep, client=one_worker, out_dir=tmp_path / "out", progress=False)
    assert report["checks"]["pd_given_draws_points"] == 1
    steady, = [r for r in report["rows"] if r["target.0.swerling"] == 0]
    fluctuating, = [r for r in report["rows"] if r["target.0.swerling"] == 1]
    assert "pd_theory_given_draws" not in steady
    powers = []
    for run in range(2):
        scenario = parse_scenario(sweep.scenario_doc(("ca", 1, -9.0), run))
        powers += list(np.abs(target_fluctuation(scenario.radar, scenario.targets[0], 0)) ** 2)
    assert len(powers) == 6 and len(set(powers)) == 6
    gain = 10 * np.log10(13 * 8)                    # Barker-13, 8 pulses, rectangular
    alpha = cfar_alpha("ca", 1e-3, 8)
    expected = np.mean([swerling0_pd(10 ** ((-9.0 + gain) / 10) * p, "ca", alpha, 8)
                        for p in powers])
    assert fluctuating["pd_theory_given_draws"] == pytest.approx(expected, abs=1e-4)
    assert fluctuating["pd_theory_given_draws_within"] == (
        fluctuating["pd_lo"] <= fluctuating["pd_theory_given_draws"] <= fluctuating["pd_hi"])
