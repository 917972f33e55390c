"""Short forms for reports: the server as one line (not its raw record), a model's answer as
an excerpt, and which options matter to what ran."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from pytest_llmserver._util import md_table, redact_url

EXCERPT_CHARS = 200


def human_bytes(size: object) -> str | None:
    """``105577965`` as ``106 MB`` (decimal units); None for anything but a positive int."""
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        return None
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000:
            return f"{value:.0f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def server_summary(server: Mapping[str, Any], model: str) -> dict[str, Any]:
    """A server record reduced to kind, version, URL (password redacted), and the model's
    size and quantization; keys without a value are left out (a reduced one stays as is)."""
    info = next(
        (
            i
            for i in server.get("model_info") or []
            if isinstance(i, dict) and i.get("name") == model
        ),
        {},
    )
    url = server.get("url")
    size = info.get("parameter_size") or human_bytes(info.get("size_bytes")) or server.get("size")
    out = {
        "kind": server.get("kind") or server.get("type"),
        "version": server.get("version"),
        "url": redact_url(url) if isinstance(url, str) else None,
        "size": size,
        "quantization": info.get("quantization") or server.get("quantization"),
    }
    return {k: v for k, v in out.items() if v}


def target_line(target: Mapping[str, Any]) -> str:
    """One line for a ``results.json`` target: kind and version at URL, model, size and
    quantization, a short digest."""
    fp = target.get("fingerprint") or {}
    kind = target.get("kind") or fp.get("kind") or "server"
    version = f" {fp['server_version']}" if fp.get("server_version") else ""
    url = target.get("url")
    shown = redact_url(url) if isinstance(url, str) else "-"
    details = [
        human_bytes(fp.get("size_bytes")),
        fp.get("quantization"),
        f"context {fp['context_length']}" if fp.get("context_length") else None,
        f"digest {str(fp['digest'])[:12]}" if fp.get("digest") else None,
    ]
    extra = ", ".join(str(d) for d in details if d)
    return f"{kind}{version} at {shown}, model `{target.get('model')}`" + (
        f" ({extra})" if extra else ""
    )


def shown_groups(doc: Mapping[str, Any]) -> set[str]:
    """The option groups that matter to a ``results.json`` document: target and run always;
    stress and arena when such tests ran; gate when a baseline was compared or saved;
    discovery when the server was found by it."""
    settings = doc.get("settings") or {}
    groups = {"target", "run"}
    if doc.get("stress"):
        groups.add("stress")
    if doc.get("arenas"):
        groups.add("arena")
    if doc.get("comparison") or settings.get("save_baseline"):
        groups.add("gate")
    if settings.get("server") == "auto":
        groups.add("discovery")
    return groups


def relevant_options(
    settings: Mapping[str, Any], groups: Mapping[str, str], shown: Collection[str]
) -> dict[str, Any]:
    """The settings whose group (``groups`` maps a setting to its option group) is in
    ``shown``, or that have no known group; empty values left out."""
    return {
        key: value
        for key, value in settings.items()
        if value not in (None, [], {}, "") and (key not in groups or groups[key] in shown)
    }


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The first ``limit`` characters of ``text`` on one line (``…`` when cut)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def answers_section(answers: Sequence[tuple[str, int, str]]) -> list[str]:
    """A markdown section of (task id, attempt, final answer) with each answer's excerpt."""
    if not answers:
        return []
    rows = [(task, attempt, excerpt(answer) or "(no answer)") for task, attempt, answer in answers]
    header = ["task", "attempt", f"final answer (first {EXCERPT_CHARS} characters)"]
    return ["## Answers", "", *md_table(header, rows, ("---", "---:", "---")), ""]
