"""Markdown primitives every report uses: one cell escaper and one table writer."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence


def fmt_value(value: object) -> str:
    """Compact text for a table value: ``-`` for None, ``yes``/``no``, floats by magnitude."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _fmt_float(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, sort_keys=True)


def _fmt_float(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.3f}"
    return f"{value:.4g}"


def md_cell(value: object) -> str:
    """Text of one table cell: ``|`` and backticks escaped, line breaks flattened."""
    text = value if isinstance(value, str) else fmt_value(value)
    return (
        text.replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("`", "\\`")
        .replace("\r", " ")
        .replace("\n", " ")
    )


def md_table(
    header: Sequence[str], rows: Iterable[Sequence[object]], align: Sequence[str] = ()
) -> list[str]:
    """Markdown table lines; ``align`` gives ``---``, ``---:`` or ``:---`` per column."""
    rule = [align[i] if i < len(align) else "---" for i in range(len(header))]
    lines = [
        "| " + " | ".join(md_cell(h) for h in header) + " |",
        "|" + "|".join(rule) + "|",
    ]
    lines.extend("| " + " | ".join(md_cell(v) for v in row) + " |" for row in rows)
    return lines
