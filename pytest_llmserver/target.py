"""The target of a run: which server (its record) and which model."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx

from pytest_llmserver.client.errors import (
    LLMConnectError,
    LLMError,
    LLMProtocolError,
    LLMTimeoutError,
    status_error,
)
from pytest_llmserver.client.openai import error_message

ApiType = Literal["openai", "ollama"]


class TargetError(LLMError):
    """The server is reachable but cannot serve the run as asked (e.g. unknown model)."""

    error_class = "target"


@dataclass
class ServerRecord:
    """A server as discovery and the client see it (PRODUCT §4)."""

    url: str
    type: ApiType = "openai"
    kind: str = "openai"
    ip: str = ""
    port: int = 0
    models: list[str] = field(default_factory=list)
    status: str = "unknown"
    response_time_ms: float | None = None
    version: str = ""

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        if not self.ip or not self.port:
            parts = urlsplit(self.url)
            self.ip = self.ip or (parts.hostname or "")
            self.port = self.port or parts.port or (443 if parts.scheme == "https" else 80)

    @classmethod
    def coerce(cls, server: ServerRecord | Mapping[str, Any]) -> ServerRecord:
        """Accept a record or a plain dict with at least ``url``."""
        if isinstance(server, ServerRecord):
            return server
        if "url" not in server:
            raise TypeError("a server record needs a 'url'")
        known = {k: v for k, v in server.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    @property
    def openai_base(self) -> str:
        """Base of the OpenAI routes (the URL itself when it already ends in ``/v1``)."""
        return self.url if self.url.endswith("/v1") else self.url + "/v1"

    @property
    def root(self) -> str:
        """The server root (``/v1`` removed)."""
        return self.url[: -len("/v1")] if self.url.endswith("/v1") else self.url

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)


async def _get_json(http: httpx.AsyncClient, url: str) -> tuple[int, object]:
    """GET ``url``; return (status, parsed JSON or None when the body is not JSON)."""
    try:
        response = await http.get(url)
    except httpx.ConnectError as exc:
        raise LLMConnectError(
            f"cannot connect to {url}: {exc or 'connection refused'}", url=url
        ) from exc
    except httpx.TimeoutException as exc:
        raise LLMTimeoutError(
            f"no answer from {url} in time ({type(exc).__name__})", url=url
        ) from exc
    except httpx.HTTPError as exc:
        raise LLMProtocolError(f"bad HTTP reply from {url}: {exc}", url=url) from exc
    content_type = response.headers.get("content-type", "")
    try:
        return response.status_code, response.json()
    except ValueError:
        if response.status_code >= 400:
            raise status_error(response.status_code, response.text[:200].strip(), url) from None
        kind = content_type.split(";")[0] or "no content type"
        raise LLMProtocolError(
            f"{url} answered with {kind}, not JSON: is this an OpenAI-compatible or Ollama API?",
            url=url,
        ) from None


async def probe_server(
    url: str,
    *,
    api: Literal["auto", "openai", "ollama"] = "auto",
    api_key: str | None = None,
    timeout_s: float = 10.0,
) -> ServerRecord:
    """Fingerprint the server at ``url`` and list its models.

    Ollama is recognised by ``/api/version`` and then spoken to natively (its server-side
    timings come with it); anything else must answer ``/v1/models``.
    """
    record = ServerRecord(url=url)
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    started_ns = time.perf_counter_ns()
    async with httpx.AsyncClient(timeout=timeout_s, headers=headers) as http:
        if api in ("auto", "ollama"):
            status, version = await _get_json_or_none(http, record.root + "/api/version", api)
            if status == 200 and isinstance(version, dict) and "version" in version:
                record.type = record.kind = "ollama"
                record.version = str(version["version"])
                status, tags = await _get_json(http, record.root + "/api/tags")
                if status != 200 or not isinstance(tags, dict):
                    raise _unexpected(record.root + "/api/tags", status, tags)
                record.models = [m.get("name", "") for m in tags.get("models") or []]
            elif api == "ollama":
                raise LLMProtocolError(
                    f"--llm-api=ollama, but {record.root}/api/version is not an Ollama answer",
                    url=url,
                )
        if record.type == "openai":
            models_url = record.openai_base + "/models"
            status, listing = await _get_json(http, models_url)
            if (
                status != 200
                or not isinstance(listing, dict)
                or not isinstance(listing.get("data"), list)
            ):
                raise _unexpected(models_url, status, listing)
            record.models = [str(m.get("id", "")) for m in listing["data"] if isinstance(m, dict)]
            owners = {str(m.get("owned_by", "")) for m in listing["data"] if isinstance(m, dict)}
            record.kind = await _openai_kind(http, record, owners)
    record.response_time_ms = (time.perf_counter_ns() - started_ns) / 1e6
    record.status = "ok"
    return record


async def _get_json_or_none(http: httpx.AsyncClient, url: str, api: str) -> tuple[int, object]:
    """Like ``_get_json`` but a non-JSON answer just means "not this kind" under ``auto``."""
    try:
        return await _get_json(http, url)
    except LLMError as exc:
        if api == "ollama" or isinstance(exc, (LLMConnectError, LLMTimeoutError)):
            raise
        return 0, None


async def _openai_kind(http: httpx.AsyncClient, record: ServerRecord, owners: set[str]) -> str:
    if "llamacpp" in owners:
        return "llamacpp"
    if "vllm" in owners:
        return "vllm"
    if "pytest-llmserver-sim" in owners:
        return "sim"
    try:
        response = await http.get(record.root + "/props")
        props = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        props = None
    if isinstance(props, dict) and "default_generation_settings" in props:
        return "llamacpp"
    return "openai"


def _unexpected(url: str, status: int, body: object) -> LLMError:
    if status >= 400:
        message = error_message(body) if isinstance(body, dict) else str(body)[:200]
        return status_error(status, message, url)
    return LLMProtocolError(f"{url} answered JSON of an unexpected shape: {body!r:.200}", url=url)


def select_model(record: ServerRecord, requested: str | None) -> str:
    """``requested`` by exact name, then by unique prefix; the first listed model by default."""
    if not requested or requested == "first":
        if not record.models:
            raise TargetError(
                f"{record.url} lists no models; pass --llm-model=NAME", url=record.url
            )
        return record.models[0]
    if not record.models or requested in record.models:
        return requested
    matches = [m for m in record.models if m.startswith(requested)]
    if len(matches) == 1:
        return matches[0]
    served = ", ".join(record.models)
    if matches:
        raise TargetError(
            f"--llm-model={requested} matches several models on {record.url}: {', '.join(matches)}",
            url=record.url,
        )
    raise TargetError(
        f"model '{requested}' is not served by {record.url} (it serves: {served})", url=record.url
    )
