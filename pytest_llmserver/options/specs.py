"""Every ``--llm-*`` option, named once: its flag, ini key, environment variable, settings
group and field (the name plus its unit), parser, default and whether it is a secret.

Vocabularies (session profiles, arrival processes, tiers, SLO names, subnet and port forms)
come from the engines that define them.
"""

from __future__ import annotations

from typing import get_args

from pytest_llmserver.options.parsers import (
    count,
    count0,
    count_or_auto,
    dataset,
    flag,
    fraction,
    headers,
    int_list,
    ipv4_host,
    json_object,
    names,
    non_empty,
    non_negative,
    one_of,
    parse_server_spec,
    ports,
    positive,
    seconds,
    slos,
    subnets,
    text,
    top_p,
)
from pytest_llmserver.options.spec import ApiChoice, OptionSpec, or_none
from pytest_llmserver.stress import PROFILES, ArrivalProcess
from pytest_llmserver.toolbench import TIERS

_STRESS_TIERS = ("all", *TIERS)


OPTIONS: tuple[OptionSpec, ...] = (
    # target: which server and model, and how to talk to it
    OptionSpec(
        "server",
        "target",
        "server to test: auto (discover), URL, HOST:PORT, sim (built-in simulator) "
        "or local (llama.cpp + SmolLM2)",
        parse_server_spec,
        metavar="auto|URL|HOST:PORT|sim|local",
    ),
    OptionSpec(
        "model",
        "target",
        "model name (exact or unique prefix), first, or all (run the suites once per model)",
        non_empty("NAME, first or all"),
        metavar="NAME|first|all",
    ),
    OptionSpec(
        "api",
        "target",
        "protocol: auto (probe), openai or ollama",
        one_of(get_args(ApiChoice), lower=True),
        "auto",
        "auto|openai|ollama",
    ),
    OptionSpec(
        "api_key",
        "target",
        "API key sent as a bearer token; never written to reports",
        text,
        secret=True,
    ),
    OptionSpec("timeout", "target", "per-request deadline", seconds, "300", "SECONDS", "s"),
    OptionSpec(
        "sim_slowdown",
        "target",
        "sim: multiply the simulator's TTFT and token gap (e.g. 1.3 to rehearse a regression)",
        positive,
        "1",
        "FACTOR",
    ),
    # run: what every part of a run shares
    OptionSpec("logs", "run", "directory for reports", text, "logs", "DIR"),
    OptionSpec(
        "concurrency", "run", "requests / tool-bench tasks in flight at once", count, "4", "N"
    ),
    OptionSpec("max_tokens", "run", "limit on generated tokens per model turn", count, None, "N"),
    OptionSpec("seed", "run", "seed of every random choice (arrivals, prompts)", count0, "0", "N"),
    OptionSpec("repeat", "run", "tool-bench trials per task (pass@1 and pass^k)", count, "1", "K"),
    OptionSpec(
        "save_transcripts",
        "run",
        "save tool-bench and arena conversations as JSON under <run>/transcripts",
        flag,
        action="store_true",
    ),
    # discovery
    OptionSpec(
        "scan_subnet",
        "discovery",
        "auto: subnet to scan instead of the host's own (repeatable)",
        subnets,
        "",
        "CIDR",
        action="append",
    ),
    OptionSpec(
        "scan_ports",
        "discovery",
        "auto: ports to probe, e.g. 11434,8000-8010",
        ports,
        None,
        "PORTS",
    ),
    OptionSpec(
        "scan_max_hosts", "discovery", "auto: most hosts one subnet may hold", count, "1024", "N"
    ),
    OptionSpec(
        "scan_loopback_only",
        "discovery",
        "auto: never scan beyond 127.0.0.0/8 (for test machines)",
        flag,
        action="store_true",
    ),
    OptionSpec(
        "no_cache",
        "discovery",
        "auto: neither read nor write the discovery cache",
        flag,
        action="store_true",
    ),
    OptionSpec("cache_dir", "discovery", "directory of the discovery cache", text, None, "DIR"),
    OptionSpec(
        "list",
        "discovery",
        "discover servers, print them (kind, models, latency) and exit",
        flag,
        action="store_true",
    ),
    # stress
    OptionSpec(
        "warmup", "stress", "uncounted warm-up requests before each stress mode", count0, "1", "N"
    ),
    OptionSpec(
        "sweep", "stress", "throughput: concurrency values to sweep", int_list, "1,4", "C1,C2,..."
    ),
    OptionSpec("total", "stress", "throughput / consistency: requests per run", count, "16", "N"),
    OptionSpec("rpm", "stress", "sustained: requests per minute", positive, "120", "RPM"),
    OptionSpec(
        "arrival",
        "stress",
        "sustained: constant|poisson|gamma arrivals",
        one_of(get_args(ArrivalProcess)),
        "constant",
        "NAME",
    ),
    OptionSpec(
        "burstiness", "stress", "sustained, gamma: CV of the gaps (>1 bursty)", positive, "1", "CV"
    ),
    OptionSpec(
        "duration",
        "stress",
        "sustained / realistic users: run length",
        seconds,
        "10",
        "SECONDS",
        "s",
    ),
    OptionSpec(
        "token_sizes",
        "stress",
        "token stress: prompt sizes in tokens",
        int_list,
        "256,1024",
        "N1,N2,...",
    ),
    OptionSpec(
        "arrival_rate", "stress", "realistic users: sessions per second", positive, "0.5", "RATE"
    ),
    OptionSpec(
        "session_profile",
        "stress",
        "realistic users: one-shot|short|long|mixed",
        one_of(tuple(PROFILES)),
        "mixed",
        "NAME",
    ),
    OptionSpec(
        "slo",
        "stress",
        "SLOs that fail a stress test, e.g. ttft_p95:0.8,e2e_p99:5",
        slos,
        "",
        "SLOS",
    ),
    OptionSpec(
        "stress_tier",
        "stress",
        "tool bench under load: tier or all",
        one_of(_STRESS_TIERS),
        "quick",
        "TIER",
    ),
    OptionSpec(
        "shards",
        "stress",
        "split each mode's load over N shards (xdist workers run them together)",
        count,
        "1",
        "N",
    ),
    OptionSpec(
        "workers",
        "stress",
        "open-loop modes: client processes sharing one schedule; auto: enough for the rate "
        "by the calibrated client capacity, at most one per core",
        count_or_auto,
        "auto",
        "N|auto",
    ),
    OptionSpec(
        "meeting_host",
        "stress",
        "--llm-shards: the address of this host where the shards meet (start and clock "
        "offsets); give one the xdist workers reach when --tx puts them on other hosts",
        ipv4_host,
        "127.0.0.1",
        "HOST",
    ),
    # gate: baselines and the regression check
    OptionSpec(
        "baseline",
        "gate",
        "compare with the baseline: auto (llm-baselines/<kind>--<model>.json), a dir or a file",
        non_empty("auto, a directory or a .json file"),
        None,
        "auto|PATH",
    ),
    OptionSpec(
        "save_baseline",
        "gate",
        "save this run as the baseline (default dir llm-baselines; use --llm-save-baseline=PATH)",
        non_empty("auto, a directory or a .json file"),
        None,
        "PATH",
        action="optional",
    ),
    OptionSpec(
        "regression_threshold",
        "gate",
        "smallest relative change that counts as a regression",
        fraction,
        "0.2",
        "FRACTION",
    ),
    OptionSpec(
        "noise_floor_ms",
        "gate",
        "smallest absolute latency change that counts",
        non_negative,
        "5",
        "MS",
        "ms",
    ),
    # arena
    OptionSpec(
        "judge_model",
        "arena",
        "the judge model (default: the model under test, which is biased; "
        "with --llm-server=sim: judge-fair)",
        text,
        None,
        "NAME",
    ),
    OptionSpec(
        "arena_prompts",
        "arena",
        "prompt arena: system prompts to compare (keys of SYSTEM_PROMPTS)",
        names,
        "plain,chain_of_thought,concise",
        "KEY,KEY,...",
    ),
    OptionSpec(
        "arena_questions",
        "arena",
        "how many built-in questions (N), or their ids (id,id,...)",
        names,
        "3",
        "N|ID,...",
    ),
    OptionSpec(
        "arena_models",
        "arena",
        "model arena: 2-6 models, NAME or NAME@URL (default: up to 4 the server lists)",
        names,
        None,
        "NAME,NAME@URL,...",
    ),
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
