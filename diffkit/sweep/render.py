"""A table of columns and rows as markdown, CSV or JSON text."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

FORMATS = ("markdown", "csv", "json")


def render(columns: list[str], rows: list[dict[str, Any]], fmt: str = "markdown") -> str:
    if fmt == "json":
        return json.dumps(finite(rows), indent=2, allow_nan=False, default=str) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if row[k] is None else row[k] for k in columns} for row in rows)
        return out.getvalue()
    cells = [[_cell(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(columns)]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(v.ljust(w) for v, w in zip(r, widths)) + " |" for r in cells]
    return "\n".join(lines) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def finite(value: Any) -> Any:
    """`value` with every NaN or infinite float replaced by None, so that it is valid JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value
