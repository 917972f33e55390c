"""The model fingerprint: what identifies the model under test, so a changed model is noticed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from pytest_llmserver._util import slug
from pytest_llmserver.client import ModelInfo, ServerRecord


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
        return slug(f"{self.kind}--{self.model}")

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
