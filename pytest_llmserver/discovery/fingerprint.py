"""What is listening: tell the server product from its HTTP answers and list its models."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from typing import Any, Literal

import httpx

from pytest_llmserver._util import redact_url
from pytest_llmserver.client import (
    BearerAuth,
    LLMConnectError,
    LLMError,
    LLMHTTPStatusError,
    LLMProtocolError,
    LLMTimeoutError,
    ModelInfo,
    ServerRecord,
    error_message,
    fetch_json,
    status_error,
)

ApiChoice = Literal["auto", "openai", "ollama"]

IDENTIFY_REQUESTS = 4
"""Fingerprinting one server may take this many request time limits in all."""

# ``owned_by`` values of ``/v1/models`` entries that name the product outright.
_OWNER_KINDS = {
    "library": "ollama",  # Ollama's OpenAI listing, seen under --llm-api=openai
    "llamacpp": "llamacpp",
    "vllm": "vllm",
    "sglang": "sglang",
    "pytest-llmserver-sim": "sim",
}


def json_client(api_key: str | None = None, timeout_s: float = 10.0) -> httpx.AsyncClient:
    """An HTTP client for discovery's small JSON requests (with the API key, if any)."""
    return httpx.AsyncClient(timeout=timeout_s, auth=BearerAuth(api_key) if api_key else None)


async def check_endpoint(client: httpx.AsyncClient, url: str, endpoint: str) -> Any | None:
    """``GET url + endpoint``: the parsed JSON of a 200 answer, else ``None``.

    Never raises for network, HTTP or JSON problems: a missing or odd endpoint is just
    "not this product". The answer is read within bounds (``fetch_json``).
    """
    try:
        reply = await fetch_json(client, url.rstrip("/") + endpoint)
    except LLMError:
        return None
    return reply.value if reply.status == 200 and reply.problem is None else None


async def get_json(http: httpx.AsyncClient, url: str) -> tuple[int, object]:
    """``GET url``: (status, parsed JSON); a precise ``LLMError`` for anything else."""
    reply = await fetch_json(http, url)
    if reply.problem is None:
        return reply.status, reply.value
    shown = redact_url(url)
    if reply.status >= 400:
        raise status_error(reply.status, reply.text or "(empty body)", shown)
    kind = reply.content_type or "no content type"
    what = f"{kind}, not JSON" if reply.problem.startswith("not JSON") else reply.problem
    raise LLMProtocolError(
        f"{shown} answered with {what}: is this an OpenAI-compatible or Ollama API?", url=shown
    )


async def fingerprint(
    http: httpx.AsyncClient, url: str, *, api: ApiChoice = "auto"
) -> ServerRecord:
    """Identify the server at ``url`` and list its models; a precise ``LLMError`` if it is none.

    Ollama is recognised by ``/api/version`` and spoken to natively (its server-side timings
    come with it), although it also answers ``/v1/models``; anything else must answer
    ``/v1/models``, and the product is told by ``owned_by`` and its own routes.
    """
    record = ServerRecord(url=url)
    started_ns = time.perf_counter_ns()
    if api in ("auto", "ollama"):
        version = await _ollama_version(http, record.root, api)
        if version is not None:
            record.type = record.kind = "ollama"
            record.version = version
            await _list_ollama_models(http, record)
        elif api == "ollama":
            raise LLMProtocolError(
                f"--llm-api=ollama, but {record.root}/api/version is not an Ollama answer",
                url=url,
            )
    if record.type == "openai":
        await _list_openai_models(http, record)
    record.response_time_ms = (time.perf_counter_ns() - started_ns) / 1e6
    record.status = "ok"
    return record


async def probe_url(
    url: str,
    *,
    api: ApiChoice = "auto",
    api_key: str | None = None,
    timeout_s: float = 10.0,
) -> ServerRecord:
    """Fingerprint the server at ``url`` with a client of its own (for a pinned URL), within
    ``IDENTIFY_REQUESTS * timeout_s`` in all."""
    async with json_client(api_key, timeout_s) as http:
        return await identify_within(fingerprint(http, url, api=api), url, timeout_s)


async def identify_within(
    work: Coroutine[Any, Any, ServerRecord], url: str, timeout_s: float
) -> ServerRecord:
    """``work`` (a fingerprint of ``url``) bounded by ``IDENTIFY_REQUESTS * timeout_s``."""
    limit_s = IDENTIFY_REQUESTS * timeout_s
    try:
        return await asyncio.wait_for(work, limit_s)
    except asyncio.TimeoutError:
        shown = redact_url(url)
        raise LLMTimeoutError(
            f"{shown} did not identify itself within {limit_s:g} s", url=shown, phase="total"
        ) from None


def endpoint_url(ip: str, port: int) -> str:
    """``http://ip:port`` with IPv6 addresses bracketed."""
    host = f"[{ip}]" if ":" in ip else ip
    return f"http://{host}:{port}"


async def identify(
    ip: str, port: int, client: httpx.AsyncClient, *, api: ApiChoice = "auto"
) -> ServerRecord | str:
    """The record of the LLM server at ``ip:port``, or why it is not one.

    A server that wants an API key we lack is recorded with status ``auth_required``.
    """
    url = endpoint_url(ip, port)
    timeout_s = client.timeout.read or 10.0
    try:
        return await identify_within(fingerprint(client, url, api=api), url, timeout_s)
    except LLMHTTPStatusError as exc:
        if exc.status_code in (401, 403):
            return ServerRecord(url=url, status="auth_required")
        return str(exc)
    except LLMError as exc:
        return str(exc)
    except Exception as exc:  # an answer no check foresaw: still just "not an LLM API"
        return f"{url} answered in a way discovery cannot read ({type(exc).__name__}: {exc})"


async def probe_server(
    ip: str, port: int, client: httpx.AsyncClient, semaphore: asyncio.Semaphore
) -> ServerRecord | None:
    """Fingerprint ``ip:port`` while holding ``semaphore``; ``None`` if it is no LLM server."""
    async with semaphore:
        found = await identify(ip, port, client)
    return found if isinstance(found, ServerRecord) else None


async def context_length(
    server: ServerRecord, model: str, *, api_key: str | None = None, timeout_s: float = 10.0
) -> int | None:
    """Tokens one request to ``model`` may use, as the server says now: Ollama's
    ``/api/show``, llama.cpp's per-slot ``n_ctx`` from ``/props``, else what the record holds."""
    async with json_client(api_key, timeout_s) as http:
        try:
            if server.type == "ollama":
                reply = await fetch_json(
                    http, server.root + "/api/show", method="POST", payload={"model": model}
                )
                shown = reply.value if isinstance(reply.value, dict) else {}
                info = shown.get("model_info")
                values = [
                    v
                    for k, v in (info.items() if isinstance(info, dict) else ())
                    if str(k).endswith(".context_length")
                ]
                if values and _int_or_none(values[0]) is not None:
                    return int(values[0])
            else:
                found = await check_endpoint(http, server.root, "/props")
                props = found if isinstance(found, dict) else {}
                settings = props.get("default_generation_settings")
                if isinstance(settings, dict) and _int_or_none(settings.get("n_ctx")):
                    return int(settings["n_ctx"])
        except LLMError:
            pass
    info = server.info(model)
    return None if info is None else info.context_length


async def _ollama_version(http: httpx.AsyncClient, root: str, api: ApiChoice) -> str | None:
    """Ollama's version string, or ``None`` when ``/api/version`` is not Ollama's answer."""
    url = root + "/api/version"
    try:
        status, body = await get_json(http, url)
    except LLMError as exc:
        if api == "ollama" or isinstance(exc, (LLMConnectError, LLMTimeoutError)):
            raise
        return None
    if status == 200 and isinstance(body, dict) and isinstance(body.get("version"), str):
        return str(body["version"])
    return None


async def _list_ollama_models(http: httpx.AsyncClient, record: ServerRecord) -> None:
    url = record.root + "/api/tags"
    status, tags = await get_json(http, url)
    if status != 200 or not isinstance(tags, dict) or not isinstance(tags.get("models"), list):
        raise _unexpected(url, status, tags)
    for entry in tags["models"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            continue
        details = entry.get("details")
        if not isinstance(details, dict):
            details = {}
        record.models.append(entry["name"])
        record.model_info.append(
            ModelInfo(
                name=entry["name"],
                size_bytes=_int_or_none(entry.get("size")),
                digest=_str_or_none(entry.get("digest")),
                parameter_size=_str_or_none(details.get("parameter_size")),
                quantization=_str_or_none(details.get("quantization_level")),
            )
        )


async def _list_openai_models(http: httpx.AsyncClient, record: ServerRecord) -> None:
    url = record.openai_base + "/models"
    status, listing = await get_json(http, url)
    if status != 200 or not isinstance(listing, dict) or not isinstance(listing.get("data"), list):
        raise _unexpected(url, status, listing)
    entries = [e for e in listing["data"] if isinstance(e, dict) and isinstance(e.get("id"), str)]
    record.models = [e["id"] for e in entries]
    record.model_info = [_openai_model_info(e) for e in entries]
    owners = {str(e.get("owned_by", "")) for e in entries}
    record.kind = await _openai_kind(http, record, owners)


def _openai_model_info(entry: dict[str, Any]) -> ModelInfo:
    """Details from a ``/v1/models`` entry: vLLM's ``max_model_len``, llama.cpp's ``meta``."""
    meta = entry.get("meta") if isinstance(entry.get("meta"), dict) else {}
    assert isinstance(meta, dict)
    return ModelInfo(
        name=entry["id"],
        size_bytes=_int_or_none(meta.get("size")),
        context_length=_int_or_none(entry.get("max_model_len")) or _int_or_none(meta.get("n_ctx")),
        quantization=_str_or_none(meta.get("ftype")),
    )


async def _openai_kind(http: httpx.AsyncClient, record: ServerRecord, owners: set[str]) -> str:
    """The product behind an OpenAI-compatible API: ``owned_by`` first, then own routes."""
    root = record.root
    for owner, kind in _OWNER_KINDS.items():
        if owner in owners:
            if kind == "llamacpp":
                await _llamacpp_details(http, record)
            return kind
    if await _llamacpp_details(http, record):
        return "llamacpp"
    lmstudio: Any = await check_endpoint(http, root, "/api/v0/models")
    if _is_listing(lmstudio) and any(
        isinstance(e, dict) and "state" in e for e in lmstudio["data"]
    ):
        for entry in lmstudio["data"]:
            info = record.info(str(entry.get("id"))) if isinstance(entry, dict) else None
            if info is not None:
                info.context_length = _int_or_none(entry.get("max_context_length"))
                info.quantization = _str_or_none(entry.get("quantization"))
        return "lmstudio"
    sglang = await check_endpoint(http, root, "/get_model_info")
    if isinstance(sglang, dict) and "model_path" in sglang:
        return "sglang"
    tgi = await check_endpoint(http, root, "/info")
    if isinstance(tgi, dict) and "model_id" in tgi and "router" in tgi:
        return "tgi"
    vllm = await check_endpoint(http, root, "/version")
    if isinstance(vllm, dict) and isinstance(vllm.get("version"), str) and len(vllm) == 1:
        record.version = vllm["version"]
        return "vllm"
    return "openai"


async def _llamacpp_details(http: httpx.AsyncClient, record: ServerRecord) -> bool:
    """Read llama.cpp's ``/props``; whether it was there (its per-slot context goes on the
    models that do not state one)."""
    props: Any = await check_endpoint(http, record.root, "/props")
    if not isinstance(props, dict) or not isinstance(
        props.get("default_generation_settings"), dict
    ):
        return False
    n_ctx = _int_or_none(props["default_generation_settings"].get("n_ctx"))  # per slot
    for info in record.model_info:
        info.context_length = info.context_length or n_ctx
    record.version = _str_or_none(props.get("build_info")) or record.version
    return True


def _is_listing(body: object) -> bool:
    return isinstance(body, dict) and isinstance(body.get("data"), list)


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _unexpected(url: str, status: int, body: object) -> LLMError:
    if status >= 400:
        message = error_message(body) if isinstance(body, dict) else str(body)[:200]
        return status_error(status, message, url)
    return LLMProtocolError(f"{url} answered JSON of an unexpected shape: {body!r:.200}", url=url)
