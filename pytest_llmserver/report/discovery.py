"""Discovery in words: the live progress line, the choice line and the ``--llm-list`` table."""

from __future__ import annotations

from pytest_llmserver.client import ServerRecord
from pytest_llmserver.discovery import Discovery, ScanProgress


def scan_progress_text(progress: ScanProgress) -> str:
    """One line for the terminal, e.g. ``discovery subnet 127.0.0.0/28: connect 30/112``."""
    text = f"llm discovery: {progress.phase} {progress.stage} {progress.done}/{progress.total}"
    if progress.stage == "connect":
        text += f", {progress.open} open"
    if progress.stage == "fingerprint":
        text += f", {progress.found} LLM server(s)"
    return text


def describe(server: ServerRecord) -> str:
    """``http://127.0.0.1:11434 (ollama 0.12.0, 3 models, 4.1 ms)``."""
    version = f" {server.version}" if server.version else ""
    latency = "" if server.response_time_ms is None else f", {server.response_time_ms:.1f} ms"
    if server.status != "ok":
        return f"{server.url} ({server.kind}, {server.status})"
    count = len(server.models)
    return f"{server.url} ({server.kind}{version}, {count} model{'s' * (count != 1)}{latency})"


def choice_lines(discovery: Discovery) -> list[str]:
    """What ``auto`` chose and why, then the other servers found; for the terminal header."""
    chosen = discovery.chosen
    if chosen is None:
        lines = [f"llm-server: auto found no LLM server ({discovery.summary()})"]
        return lines + [f"  note: {note}" for note in discovery.notes]
    how = "from the cache" if discovery.phase == "cache" else f"by the {discovery.phase} scan"
    lines = [f"llm-server: auto -> {describe(chosen)}, found {how} in {discovery.elapsed_s:.2f} s"]
    others = [s for s in discovery.servers if s is not chosen]
    if others:
        lines.append(
            f"  {len(others) + 1} servers found; chose the first healthy one with models "
            "(loopback, then lowest address and port); the others:"
        )
        lines += [f"    {describe(s)}" for s in others]
    return lines


def server_table(discovery: Discovery) -> list[str]:
    """The ``--llm-list`` output: one row per server, its models, then notes."""
    lines = [f"{len(discovery.servers)} LLM server(s); {discovery.summary()}"]
    if discovery.servers:
        lines.append(f"{'server':<32} {'type':<7} {'kind':<9} {'latency':>9}  models")
    for server in discovery.servers:
        latency = "-" if server.response_time_ms is None else f"{server.response_time_ms:.1f} ms"
        models = ", ".join(_model_text(server, m) for m in server.models) or server.status
        lines.append(f"{server.url:<32} {server.type:<7} {server.kind:<9} {latency:>9}  {models}")
    lines += [f"not an LLM API: {url}: {why}" for url, why in sorted(discovery.rejected.items())]
    lines += [f"note: {note}" for note in discovery.notes]
    return lines


def _model_text(server: ServerRecord, model: str) -> str:
    info = server.info(model)
    if info is None:
        return model
    extras = [
        f"{info.size_bytes / 1e9:.1f} GB" if info.size_bytes else "",
        info.digest.removeprefix("sha256:")[:12] if info.digest else "",
        f"ctx {info.context_length}" if info.context_length else "",
    ]
    shown = ", ".join(e for e in extras if e)
    return f"{model} [{shown}]" if shown else model
