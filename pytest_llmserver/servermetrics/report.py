"""One run's server-metrics report: the summaries of every endpoint, the client's token counts
and per-request overhead from the records, Ollama's loaded models and cold loads; as report
tables (``tables``), notes and JSON."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from pytest_llmserver._util import redact_url
from pytest_llmserver.servermetrics.series import Series
from pytest_llmserver.servermetrics.summary import (
    EndpointSummary,
    percentiles,
    summarize_endpoint,
)

COLD_LOAD_S = 0.5
"""An Ollama request whose ``load_duration`` passes this loaded its model (a cold load)."""
SERVER_STAMPS = ("prompt_eval_duration_ns", "eval_duration_ns")


@dataclass
class ServerReport:
    """What the server said about one run, beside what the client measured."""

    endpoints: list[EndpointSummary] = field(default_factory=list)
    client_prompt_tokens: int = 0
    client_output_tokens: int = 0
    client_requests: int = 0
    overhead: dict[str, dict[str, Any]] = field(default_factory=dict)
    overhead_basis: str = ""
    ollama_models: list[dict[str, Any]] = field(default_factory=list)
    cold_loads: dict[str, Any] | None = None
    aligned_by: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = {k: v for k, v in self.__dict__.items() if k != "endpoints"}
        return {"endpoints": [e.to_dict() for e in self.endpoints], **out}

    def figures(self) -> dict[str, float]:
        """Key numbers of the first Prometheus endpoint for the report's figures:
        ``server_<gauge>_max``, ``server_<counter>`` (deltas) and
        ``server_<counter>_diff_pct`` (server - client, % of client) for tokens."""
        if not self.endpoints:
            return {}
        first = self.endpoints[0]
        out = {f"server_{key}_max": round(g.max, 6) for key, g in first.gauges.items()}
        out.update({f"server_{key}": d.delta for key, d in first.counters.items()})
        cached = first.counters.get("cached_prompt_tokens")
        clients = {
            "prompt_tokens": self.client_prompt_tokens,
            "generated_tokens": self.client_output_tokens,
        }
        for key, client in clients.items():
            delta = first.counters.get(key)
            if delta is not None and client:
                server = delta.delta + (cached.delta if cached and key == "prompt_tokens" else 0)
                out[f"server_{key}_diff_pct"] = round((server - client) / client * 100, 3)
        return out

    def tables(self) -> dict[str, list[dict[str, Any]]]:
        """Report tables: ``server_metrics`` (gauges, counters, tokens server vs client),
        ``server_vs_client_latency``, ``client_overhead`` and ``ollama_models`` where there
        is something to show."""
        out: dict[str, list[dict[str, Any]]] = {}
        rows = [row for e in self.endpoints for row in self._endpoint_rows(e)]
        if rows:
            out["server_metrics"] = rows
        latency = [
            {
                "metric": f"{row.metric} ({row.histogram})",
                **{f"server {k} (ms)": _ms(v) for k, v in row.server.items()},
                **{f"client {k} (ms)": _ms(v) for k, v in row.client.items()},
                "n server / client": f"{row.server_n} / {row.client_n}",
            }
            for e in self.endpoints
            for row in e.latency
        ]
        if latency:
            out["server_vs_client_latency"] = latency
        if self.overhead:
            out["client_overhead"] = [
                {
                    "metric": name,
                    **{
                        k if k == "n" else f"{k} (ms)": v if k == "n" else _ms(v)
                        for k, v in figures.items()
                    },
                    "basis": self.overhead_basis,
                }
                for name, figures in self.overhead.items()
            ]
        if self.ollama_models:
            out["ollama_models"] = self.ollama_models
        return out

    def _endpoint_rows(self, e: EndpointSummary) -> list[dict[str, Any]]:
        where = "" if len(self.endpoints) == 1 else f"{redact_url(e.url)}: "
        rows = [
            {"measure": f"{where}endpoint", "value": f"{redact_url(e.url)} ({e.family})"},
            {"measure": f"{where}scrapes", "value": f"{e.scrapes} ok, {e.failed} failed"},
        ]
        for key, gauge in e.gauges.items():
            scale, unit = (100.0, " %") if key == "kv_use" else (1.0, "")
            rows.append(
                {
                    "measure": f"{where}{gauge.name} mean / max",
                    "value": f"{gauge.mean * scale:.2f} / {gauge.max * scale:.2f}{unit}",
                }
            )
        clients = {
            "prompt_tokens": self.client_prompt_tokens,
            "generated_tokens": self.client_output_tokens,
        }
        cached = e.counters.get("cached_prompt_tokens")
        for key, delta in e.counters.items():
            value = f"{delta.delta:,.0f}"
            rate = e.rate(key)
            if rate is not None and key != "preemptions":
                value += f" ({rate:,.1f}/s over {e.span_s:.1f} s)"
            server = delta.delta
            if key == "prompt_tokens" and cached is not None:
                server += cached.delta
                value += f"; with {cached.name} {server:,.0f}"
            if key in clients:
                value += f"; client {clients[key]:,}" + _difference(server, clients[key])
            rows.append({"measure": f"{where}{delta.name} (delta)", "value": value})
        return rows


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def _difference(server: float, client: int) -> str:
    if not client:
        return ""
    return f" ({(server - client) / client * 100:+.2f} %)"


def _total(records: Sequence[Mapping[str, Any]], key: str) -> int:
    return sum(int(v) for r in records if isinstance(v := r.get(key), int) and v > 0)


def server_report(
    series: Series, records: Sequence[Mapping[str, Any]], t0_unix_s: float | None
) -> ServerReport:
    """The report of ``series`` (aligned here on the records' axis) against ``records`` (every
    record of the run, warm-up included: the server counts those too)."""
    report = ServerReport(notes=list(series.notes))
    report.aligned_by = series.align(records, t0_unix_s)
    report.client_requests = len(records)
    report.client_prompt_tokens = _total(records, "prompt_tokens")
    report.client_output_tokens = _total(records, "output_tokens")
    for endpoint in series.endpoints:
        samples = series.of(endpoint.url)
        if endpoint.kind == "prometheus":
            summary = summarize_endpoint(endpoint, samples, records)
            report.endpoints.append(summary)
            report.notes += [f"{redact_url(endpoint.url)}: {n}" for n in summary.notes]
        else:
            report.ollama_models = ollama_models(samples, report.notes)
    _overhead(report, records)
    _cold_loads(report, records)
    if report.endpoints:
        report.notes.append(
            "server counters and histograms cover every request of the run, warm-up included; "
            "so do the client figures beside them"
        )
    return report


def _overhead(report: ServerReport, records: Sequence[Mapping[str, Any]]) -> None:
    """Client - server per request where the server stamps each one (llama.cpp ``timings``,
    Ollama durations), else the difference of the percentiles."""
    ok = [r for r in records if r.get("ok") is True]
    ttft, e2e = [], []
    for r in ok:
        prefill, decode = (r.get(k) for k in SERVER_STAMPS)
        if isinstance(r.get("ttft_s"), (int, float)) and isinstance(prefill, int):
            ttft.append(float(r["ttft_s"]) - prefill / 1e9)
            if isinstance(r.get("e2e_s"), (int, float)) and isinstance(decode, int):
                e2e.append(float(r["e2e_s"]) - (prefill + decode) / 1e9)
    if ttft:
        report.overhead_basis = "per request"
        report.overhead["ttft - server prefill"] = {"n": len(ttft), **percentiles(ttft)}
        if e2e:
            report.overhead["e2e - server prefill+decode"] = {"n": len(e2e), **percentiles(e2e)}
        report.notes.append(
            "client overhead per request = client time - the server's own durations; it "
            "includes network, HTTP and time queued in the server before prefill"
        )
        return
    for endpoint in report.endpoints:
        for row in endpoint.latency:
            diffs = {
                k: None if (c := row.client.get(k)) is None or s is None else c - s
                for k, s in row.server.items()
            }
            if row.client_n:
                report.overhead[f"{row.metric} client - server"] = {"n": row.client_n, **diffs}
    if report.overhead:
        report.overhead_basis = "difference of percentiles"
        report.notes.append(
            "client overhead = client percentile - server percentile (no per-request server "
            "stamps): a difference of distributions, not a distribution of differences"
        )


def ollama_models(samples: Sequence[Any], notes: list[str]) -> list[dict[str, Any]]:
    """Ollama's loaded models over the run: per model, snapshots seen in, the largest size in
    memory and in VRAM, the last expiry; model-set changes go to ``notes``."""
    seen: dict[str, dict[str, Any]] = {}
    sets: list[frozenset[str]] = []
    for sample in samples:
        if sample.models is None:
            continue
        sets.append(frozenset(m["name"] for m in sample.models))
        for model in sample.models:
            row = seen.setdefault(model["name"], {"model": model["name"], "snapshots": 0})
            row["snapshots"] += 1
            for key in ("size_bytes", "size_vram_bytes"):
                if isinstance(model.get(key), int):
                    row[key] = max(row.get(key, 0), model[key])
            row["expires_at"] = model.get("expires_at")
    changes = sum(1 for a, b in pairwise(sets) if a != b)
    if changes:
        notes.append(f"Ollama's loaded models changed {changes} time(s) during the run")
    return list(seen.values())


def _cold_loads(report: ServerReport, records: Sequence[Mapping[str, Any]]) -> None:
    if not report.ollama_models:
        return
    loads = [
        r["load_duration_ns"] / 1e9 for r in records if isinstance(r.get("load_duration_ns"), int)
    ]
    if not loads:
        report.notes.append(
            "no request's record has Ollama's load_duration: cold loads not flagged"
        )
        return
    cold = [s for s in loads if s > COLD_LOAD_S]
    report.cold_loads = {"requests": len(loads), "cold": len(cold), "max_s": max(loads)}
    if cold:
        report.notes.append(
            f"{len(cold)} cold load(s): load_duration > {COLD_LOAD_S:g} s (max {max(loads):.2f} s)"
        )
