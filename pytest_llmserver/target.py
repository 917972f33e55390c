"""The target of a run: which server (its record) and which model."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from pytest_llmserver.client.errors import LLMError

ApiType = Literal["openai", "ollama"]


class TargetError(LLMError):
    """The server is reachable but cannot serve the run as asked (e.g. unknown model)."""

    error_class = "target"


@dataclass
class ModelInfo:
    """What a server says about one model; ``None`` where it does not say."""

    name: str
    size_bytes: int | None = None
    digest: str | None = None
    context_length: int | None = None
    parameter_size: str | None = None
    quantization: str | None = None


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
    model_info: list[ModelInfo] = field(default_factory=list)

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
        known["model_info"] = [_model_info(i) for i in known.get("model_info") or []]
        return cls(**known)

    def info(self, model: str) -> ModelInfo | None:
        """The details the server gave for ``model``, if any."""
        return next((i for i in self.model_info if i.name == model), None)

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


@dataclass(frozen=True)
class ModelFingerprint:
    """What identifies the model under test, so a changed model is noticed (PRODUCT §8)."""

    kind: str
    model: str
    server_version: str = ""
    digest: str | None = None
    size_bytes: int | None = None
    quantization: str | None = None
    context_length: int | None = None

    @classmethod
    def of(cls, server: ServerRecord, model: str) -> ModelFingerprint:
        """The fingerprint of ``model`` as ``server`` describes it."""
        info = server.info(model) or ModelInfo(name=model)
        return cls(
            kind=server.kind,
            model=model,
            server_version=server.version,
            digest=info.digest,
            size_bytes=info.size_bytes,
            quantization=info.quantization,
            context_length=info.context_length,
        )

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ModelFingerprint:
        """Rebuild from ``to_dict`` output (unknown keys ignored)."""
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})

    @property
    def key(self) -> str:
        """``kind--model``, safe as a file name: baselines are kept per key."""
        return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{self.kind}--{self.model}").strip("._")

    @property
    def identity(self) -> str:
        """The model's build: digest, else size and quantization, else its name."""
        if self.digest:
            return self.digest.removeprefix("sha256:")[:12]
        parts = [str(p) for p in (self.size_bytes, self.quantization) if p]
        return "/".join(parts) if parts else self.model

    def describe(self) -> str:
        """``ollama llama3:8b @ 365c0bd3c000``."""
        return f"{self.kind} {self.model} @ {self.identity}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)


def _model_info(raw: ModelInfo | Mapping[str, Any]) -> ModelInfo:
    if isinstance(raw, ModelInfo):
        return raw
    return ModelInfo(**{k: raw[k] for k in ModelInfo.__dataclass_fields__ if k in raw})


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
