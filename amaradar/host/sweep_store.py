"""The sweep's results on disk, written point by point so a killed sweep resumes.

``results.parquet`` holds one row per finished point (:func:`point_row`);
``tasks.parquet`` one row per run of those points: ``point`` (index in the
grid), ``run``, ``bit_exact`` (null with the reference engine) and ``seconds``
(the task's time on its worker). Both files are rewritten whole, through a
temporary file and a rename, after every point, so they are never half-written.
"""

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["SweepStore", "StoreError"]

_TASK_SCHEMA = pa.schema([("point", pa.int64()), ("run", pa.int64()),
                          ("bit_exact", pa.bool_()), ("seconds", pa.float64())])


class StoreError(ValueError):
    """An output folder whose results belong to another sweep."""


class SweepStore:
    """The results of a sweep of ``runs`` runs a point in ``out_dir``, with the
    columns ``columns``."""

    def __init__(self, out_dir, columns, runs):
        self.out_dir = Path(out_dir)
        self.results_path = self.out_dir / "results.parquet"
        self.tasks_path = self.out_dir / "tasks.parquet"
        self.columns = list(columns)
        self.rows, self.tasks = [], []
        if self.results_path.exists():
            table = pq.read_table(self.results_path)
            if table.column_names != self.columns:
                raise StoreError(f"{str(self.results_path)!r} holds another sweep (columns "
                                 f"{', '.join(table.column_names)}); give another --out")
            self.rows = table.to_pylist()
            other = sorted({row["runs"] for row in self.rows} - {runs})
            if other:
                raise StoreError(f"{str(self.results_path)!r} holds points of {other[0]} runs, "
                                 f"this sweep has {runs}; give another --out")
            if self.tasks_path.exists():
                self.tasks = pq.read_table(self.tasks_path).to_pylist()

    def done(self, keys):
        """The grid points (tuples of the ``keys`` values) already in the results."""
        return {tuple(row[k] for k in keys) for row in self.rows}

    def add(self, row, tasks):
        """Append a point's row and its tasks' rows; rewrite both files."""
        self.rows.append(row)
        self.tasks.extend(tasks)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        _replace(self.results_path, pa.Table.from_pylist(self.rows))
        _replace(self.tasks_path, pa.Table.from_pylist(self.tasks, schema=_TASK_SCHEMA))


def _replace(path, table):
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
