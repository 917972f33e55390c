"""Prompts of an exact token length as the server counts them (chat template included), and
how a server is told to write replies of an exact length.

A synthetic prompt is ``Words:`` then N words drawn from a vocabulary of common English
words that tokenizers keep as one token each (with the space before them), then one line of
instruction. Its first ``SALT_WORDS`` words are the request's own, so no two prompts share a
prefix past the chat template. The calibration counts three such prompts once per run with the
server's tokenizer (llama.cpp's ``/apply-template`` + ``/tokenize``, vLLM's ``/tokenize``) or,
elsewhere, by the ``usage.prompt_tokens`` (Ollama: ``prompt_eval_count``) of one-token
requests: two sizes give the tokens per word and the template's own tokens, the third (at the
run's mean length) corrects what is left.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from pytest_llmserver._util import redact_url
from pytest_llmserver.client import LLMError, ServerRecord, fetch_json
from pytest_llmserver.stress.lengths import WorkloadError

VOCABULARY: tuple[str, ...] = tuple(
    """time year people way day man thing woman life child world school state family student
    group country problem hand part place case week company system program question work
    government number night point home water room mother area money story fact month lot right
    study book eye job word business issue side kind head house service friend father power
    hour game line end member law car city community name president team minute idea kid body
    information back parent face others level office door health person art war history party
    result change morning reason research girl guy moment air teacher force education river
    stone garden window table paper music light color road field boat tree bird fish horse
    apple bread milk winter summer spring autumn green blue red black white small large quick
    slow warm cold bright dark open close early late""".split()  # noqa: SIM905
)
"""Common words, each one token (after a space) in the tokenizers of today's open models."""

LEAD = "Words:"
INSTRUCTION = "\n\nWrite a long story that uses every one of these words."
SALT_WORDS = 4
"""Words at the start of every prompt that are the request's own."""

_PROBE_WORDS = (16, 144)
"""Word counts of the two calibration prompts that measure tokens per word and the rest."""

Counter = Callable[[list[dict[str, Any]]], Awaitable[int]]
"""Counts the prompt tokens of a chat request's messages as the server does."""


def _words(count: int, key: str) -> list[str]:
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    rng = random.Random(int.from_bytes(digest, "big"))
    return [rng.choice(VOCABULARY) for _ in range(count)]


def synthetic_text(
    words: int, seed: int | str, index: int, body: str | None = None, *, shared: int = 0
) -> str:
    """A prompt of ``words`` vocabulary words: ``shared`` words common to every prompt, then
    ``SALT_WORDS`` from ``seed`` and ``index``, then the rest from ``body`` (default: the
    index too; give the same ``body`` to repeat one prompt behind different salts)."""
    shared = min(shared, words)
    salt = min(SALT_WORDS, words - shared)
    common = _words(shared, "pytest-llmserver/shared-prefix")
    head = _words(salt, f"{seed}/salt/{index}")
    rest = _words(words - shared - salt, f"{seed}/body/{index if body is None else body}")
    return f"{LEAD} {' '.join(common + head + rest)}{INSTRUCTION}"


@dataclass(frozen=True)
class Calibration:
    """What a synthetic prompt of N words costs in prompt tokens on this server and model:
    ``overhead_tokens + N * tokens_per_word``."""

    overhead_tokens: float
    tokens_per_word: float
    method: str
    """``tokenize`` (the server's tokenizer) or ``usage`` (reported prompt tokens)."""

    @property
    def minimum_tokens(self) -> int:
        """The shortest prompt this calibration can build (one word)."""
        return round(self.overhead_tokens + self.tokens_per_word)

    def words_for(self, tokens: int) -> int:
        """Words that make a prompt of ``tokens`` tokens; a ``WorkloadError`` when even one
        word is too many."""
        words = round((tokens - self.overhead_tokens) / self.tokens_per_word)
        if words < 1:
            raise WorkloadError(
                f"an input length of {tokens} tokens is below the {self.minimum_tokens} tokens "
                "the shortest prompt takes with this server's chat template"
            )
        return words

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


async def calibrate(
    count: Counter,
    messages: Callable[[str], list[dict[str, Any]]],
    target_tokens: int,
    seed: int | str,
    method: str,
) -> Calibration:
    """Measure the prompt-token cost of synthetic prompts with ``count`` (three counts)."""
    few, many = _PROBE_WORDS
    key = f"{seed}/calibration"
    small = await count(messages(synthetic_text(few, key, 0)))
    large = await count(messages(synthetic_text(many, key, 1)))
    per_word = (large - small) / (many - few)
    if per_word <= 0:
        raise WorkloadError(
            f"cannot calibrate prompt lengths: {few} and {many} words counted {small} and "
            f"{large} prompt tokens"
        )
    rough = Calibration(small - few * per_word, per_word, method)
    words = rough.words_for(target_tokens)
    checked = await count(messages(synthetic_text(words, key, 2)))
    expected = rough.overhead_tokens + words * per_word
    return Calibration(rough.overhead_tokens + (checked - expected), per_word, method)


async def tokenizer_counter(
    server: ServerRecord,
    model: str,
    http: httpx.AsyncClient,
) -> Counter | None:
    """A counter through the server's own tokenizer (llama.cpp, vLLM); None for servers
    without one."""
    root = server.root
    if server.kind == "llamacpp":

        async def count_llamacpp(messages: list[dict[str, Any]]) -> int:
            shaped = await _post(http, f"{root}/apply-template", {"messages": messages})
            prompt = shaped.get("prompt")
            if not isinstance(prompt, str):
                raise WorkloadError(f"{root}/apply-template answered without a prompt")
            body = {"content": prompt, "add_special": True, "parse_special": True}
            tokens = (await _post(http, f"{root}/tokenize", body)).get("tokens")
            if not isinstance(tokens, list):
                raise WorkloadError(f"{root}/tokenize answered without tokens")
            return len(tokens)

        return count_llamacpp
    if server.kind == "vllm":

        async def count_vllm(messages: list[dict[str, Any]]) -> int:
            body = {"model": model, "messages": messages, "add_generation_prompt": True}
            counted = (await _post(http, f"{root}/tokenize", body)).get("count")
            if not isinstance(counted, int):
                raise WorkloadError(f"{root}/tokenize answered without a count")
            return counted

        return count_vllm
    return None


async def _post(http: httpx.AsyncClient, url: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """``url``'s JSON object answer to ``body``, read within bounds (``fetch_json``); a
    ``WorkloadError`` naming what went wrong otherwise."""
    try:
        reply = await fetch_json(http, url, method="POST", payload=dict(body))
    except LLMError as exc:
        raise WorkloadError(str(exc)) from None
    if reply.status != 200:
        raise WorkloadError(f"{redact_url(url)} answered HTTP {reply.status}")
    if not isinstance(reply.value, dict):
        what = reply.problem or "JSON that is not an object"
        raise WorkloadError(f"{redact_url(url)} answered with {what}")
    return reply.value


@dataclass(frozen=True)
class OutputControl:
    """How replies of an exact length are asked for on one kind of server."""

    label: str
    fixed: bool
    """Whether the server writes exactly ``max_tokens`` tokens (else it may stop sooner)."""
    ignore_eos: bool = False
    min_tokens: bool = False

    def fields(self, tokens: int) -> dict[str, Any]:
        """Request-body fields beyond ``max_tokens`` for a reply of ``tokens`` tokens."""
        body: dict[str, Any] = {}
        if self.ignore_eos:
            body["ignore_eos"] = True
        if self.min_tokens:
            body["min_tokens"] = tokens
        return body


def output_control(server: ServerRecord) -> OutputControl:
    """The output-length control ``server`` accepts: ``ignore_eos`` on llama.cpp, SGLang and
    vLLM (with ``min_tokens`` on vLLM), else a cap only (Ollama's ``num_predict``, elsewhere
    ``max_tokens``), which a reply may end before."""
    if server.kind == "vllm":
        return OutputControl("fixed: max_tokens + ignore_eos + min_tokens", True, True, True)
    if server.kind in ("llamacpp", "sglang"):
        return OutputControl("fixed: max_tokens + ignore_eos", True, True)
    cap = "num_predict" if server.type == "ollama" else "max_tokens"
    return OutputControl(f"uncontrolled: {cap} caps the reply, which may end sooner", False)


def no_prompt_cache(server: ServerRecord) -> dict[str, Any]:
    """Request-body fields that keep a server from serving a prompt from its cache, where it
    accepts them per request (llama.cpp's ``cache_prompt``)."""
    return {"cache_prompt": False} if server.kind == "llamacpp" else {}
