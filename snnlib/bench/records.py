"""Benchmark records on disk: ``bench.json`` (the whole result) and ``bench.csv`` (one row per
record)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Sequence

from snnlib.atomic import write_atomic


def _csv_value(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return "x".join("" if v is None else (f"{v:.6g}" if isinstance(v, float) else str(v))
                        for v in value)
    return value


def records_csv(records: Sequence[dict]) -> str:
    """The records as CSV text (lists joined with ``x``; union of keys as columns)."""
    keys: list[str] = []
    for r in records:
        keys.extend(k for k in r if k not in keys)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    for r in records:
        writer.writerow({k: _csv_value(r.get(k)) for k in keys})
    return buf.getvalue()


def write_results(result: dict, out_dir: str | Path, stem: str = "bench") -> dict[str, Path]:
    """Write ``<stem>.json`` and ``<stem>.csv`` atomically; returns their paths."""
    out_dir = Path(out_dir)
    paths = {"json": out_dir / f"{stem}.json", "csv": out_dir / f"{stem}.csv"}
    write_atomic(paths["json"], json.dumps(result, indent=2, default=float))
    write_atomic(paths["csv"], records_csv(result["records"]))
    return paths
