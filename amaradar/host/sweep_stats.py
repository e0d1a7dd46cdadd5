"""A sweep point's figures and their 95 % intervals, from its runs' counts.

- ``pd``, ``pfa``: proportions, with the exact (Clopper-Pearson) binomial interval;
- ``plot_rms_range`` (m), ``plot_rms_velocity`` (m/s): root mean square of the
  errors of the plots on target 0, with the chi-square interval of a zero-mean
  Gaussian error;
- ``ospa``, ``gospa`` (cells): mean over the CPIs, with the Student t interval.

A figure without a sample (no look at the target, no plot on it) is NaN.
"""

import math

from scipy import stats

__all__ = ["CONFIDENCE", "add_counts", "point_row"]

CONFIDENCE = 0.95
_NAN = (math.nan, math.nan, math.nan)


def add_counts(runs):
    """Sum the count dicts of :func:`amaradar.host.sweep_task.run_task` over ``runs``."""
    keys = [k for k in runs[0] if k not in ("bit_exact", "seconds")]
    return {k: sum(r[k] for r in runs) for k in keys}


def _proportion(k, n):
    if n == 0:
        return _NAN
    ci = stats.binomtest(int(k), int(n)).proportion_ci(CONFIDENCE, method="exact")
    return k / n, ci.low, ci.high


def _rms(sum_sq, n):
    if n == 0:
        return _NAN
    tail = (1 - CONFIDENCE) / 2
    return (math.sqrt(sum_sq / n), math.sqrt(sum_sq / stats.chi2.isf(tail, n)),
            math.sqrt(sum_sq / stats.chi2.ppf(tail, n)))


def _mean(total, total_sq, n):
    if n == 0:
        return _NAN
    mean = total / n
    if n == 1:
        return mean, math.nan, math.nan
    sd = math.sqrt(max(0.0, (total_sq - n * mean * mean) / (n - 1)))
    half = stats.t.isf((1 - CONFIDENCE) / 2, n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


def _figure(name, c):
    if name == "pd":
        return _proportion(c["pd_hits"], c["pd_trials"])
    if name == "pfa":
        return _proportion(c["false"], c["cells"])
    if name == "plot_rms_range":
        return _rms(c["range_sq"], c["errors"])
    if name == "plot_rms_velocity":
        return _rms(c["velocity_sq"], c["errors"])
    return _mean(c[f"{name}_sum"], c[f"{name}_sq"], c["looks"])


def point_row(keys, point, runs, figures, counts):
    """The results row of a point: grid keys, ``runs``, ``cells``, each figure and its
    interval as ``<figure>``, ``<figure>_lo``, ``<figure>_hi``."""
    row = dict(zip(keys, point))
    row.update(runs=runs, cells=int(counts["cells"]))
    for name in figures:
        row[name], row[f"{name}_lo"], row[f"{name}_hi"] = (float(v) for v in _figure(name, counts))
    return row
