"""The options added after the first set (same form as ``specs.OPTIONS``, which ends with
them): built-in suite choice, sampling and request shape, users' own prompts, prefix caches,
token lengths, the server's own metrics."""

from __future__ import annotations

from pytest_llmserver.options.parsers import (
    SettingsError,
    count,
    count0,
    dataset,
    fraction,
    headers,
    json_object,
    non_empty,
    non_negative,
    one_of,
    seconds,
    token_lengths,
    top_p,
)
from pytest_llmserver.options.spec import OptionSpec, or_none


def _scrape_targets(raw: str, source: str) -> tuple[str, ...]:
    from pytest_llmserver.servermetrics import parse_scrape_targets

    try:
        return parse_scrape_targets(raw)
    except ValueError as exc:
        raise SettingsError(f"{source}: {exc}") from None


LATER_OPTIONS: tuple[OptionSpec, ...] = (
    # run (appended): which built-in suites a run collects
    OptionSpec(
        "builtin",
        "run",
        "built-in suites (with --llm-server): yes = besides your tests, only = just them, "
        "no = never, auto = when an argument, -m or -k names them or your paths hold no tests",
        one_of(("auto", "yes", "no", "only"), lower=True),
        "auto",
        "auto|yes|no|only",
    ),
    OptionSpec(
        "temperature",
        "run",
        "sampling temperature sent with tool-bench, arena and stress requests (none: not sent)",
        or_none(non_negative),
        "0",
        "T|none",
    ),
    OptionSpec(
        "sampling_seed",
        "run",
        "sampling seed sent with those requests (none: not sent; dropped if the server refuses)",
        or_none(count0),
        "42",
        "N|none",
    ),
    OptionSpec("top_p", "run", "top_p sent with those requests (default: none)", top_p, None, "P"),
    OptionSpec(
        "extra_body",
        "run",
        "JSON object merged into every request body (objects merge, e.g. Ollama options)",
        json_object,
        metavar="JSON",
    ),
    OptionSpec(
        "header",
        "target",
        "extra HTTP header on every request (repeatable; env/ini: comma or newline separated)",
        headers,
        "",
        "NAME:VALUE",
        action="append",
    ),
    # stress (appended): users' own prompts
    OptionSpec(
        "dataset",
        "stress",
        "prompts for throughput, sustained, realistic-user and consistency runs: a .jsonl "
        "(prompt or messages, optional output_tokens), ShareGPT .json or .csv (prompt column) "
        "file, or bundled (our own set); default: the built-in short prompts",
        dataset,
        None,
        "PATH|bundled",
    ),
    OptionSpec(
        "prompt",
        "stress",
        "the consistency run's prompt (default: the dataset's first row, else a built-in one)",
        non_empty("the prompt text"),
        None,
        "TEXT",
    ),
    # stress (appended): prefix caches on purpose
    OptionSpec(
        "shared_prefix",
        "stress",
        "stress prompts start with the same text of about N tokens (then each request's salt), "
        "to measure the server's prefix cache; 0: no shared prefix, every prompt salted first",
        count0,
        "0",
        "TOKENS",
        unit="tokens",
    ),
    # stress (appended): token lengths as the server counts them
    OptionSpec(
        "input_tokens",
        "stress",
        "prompt length in tokens as the server counts them, chat template included: synthetic "
        "prompts calibrated with the server's tokenizer (throughput, sustained, consistency, "
        "realistic users' first turns); default: the modes' own prompts",
        token_lengths,
        None,
        "MEAN[:STDDEV[:MIN:MAX]]",
    ),
    OptionSpec(
        "output_tokens",
        "stress",
        "reply length in tokens, fixed where the server can (ignore_eos on llama.cpp, vLLM and "
        "SGLang; min_tokens on vLLM), a cap elsewhere (Ollama num_predict); replaces max_tokens",
        token_lengths,
        None,
        "MEAN[:STDDEV[:MIN:MAX]]",
    ),
    # stress (appended): the server's own metrics
    OptionSpec(
        "server_metrics",
        "stress",
        "scrape the server's Prometheus /metrics (Ollama: /api/ps) during stress runs: auto "
        "(found on the target), off, or URL[,URL...] to scrape besides",
        _scrape_targets,
        "auto",
        "auto|off|URL,...",
    ),
    OptionSpec(
        "server_metrics_interval", "stress", "seconds between scrapes", seconds, "1", "SECONDS", "s"
    ),
    # stress (appended): sweeps, capacity and safety stops
    OptionSpec(
        "sweep_points", "stress", "-m sweep: open-loop rates from c=1 to max", count, "4", "N"
    ),
    OptionSpec(
        "sweep_min_requests", "stress", "-m sweep / capacity: requests per point", count, "20", "N"
    ),
    OptionSpec(
        "ramp", "stress", "open loop: rate ramps up from 0 (warm-up)", non_negative, "0", "S", "s"
    ),
    OptionSpec(
        "max_error_rate", "stress", "open loop: stop above this error rate", fraction, None, "F"
    ),
)
