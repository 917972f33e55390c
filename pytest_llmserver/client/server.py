"""A server as discovery and the client see it (its record), and the choice of a model."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from pytest_llmserver.client.errors import TargetError

ApiType = Literal["openai", "ollama"]


@dataclass
class ModelInfo:
    """What a server says about one model; ``None`` where it does not say."""

    name: str
    size_bytes: int | None = None
    digest: str | None = None
    context_length: int | None = None
    parameter_size: str | None = None
    quantization: str | None = None


SEED_ALIASES = {"response_time": "response_time_ms"}
"""Keys of the seed's server dict that name a field differently (``response_time`` was ms)."""


@dataclass(eq=True)
class ServerRecord(Mapping[str, Any]):
    """A server as discovery and the client see it (PRODUCT §4).

    It also reads as the seed's server dict: ``s["url"]``, ``s["type"]``, ``s["models"]``,
    ``s.get("response_time")`` (milliseconds) and ``dict(s)`` work; values are plain JSON.
    """

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
        renamed = {SEED_ALIASES.get(k, k): v for k, v in server.items()}
        known = {k: v for k, v in renamed.items() if k in cls.__dataclass_fields__}
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

    def __getitem__(self, key: str) -> Any:
        name = SEED_ALIASES.get(key, key)
        if name not in self.__dataclass_fields__:
            raise KeyError(key)
        value = getattr(self, name)
        return [asdict(i) for i in value] if name == "model_info" else value

    def __iter__(self) -> Iterator[str]:
        yield from self.__dataclass_fields__
        yield from SEED_ALIASES

    def __len__(self) -> int:
        return len(self.__dataclass_fields__) + len(SEED_ALIASES)


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
