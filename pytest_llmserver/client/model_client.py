"""``ModelClient``: one model on one server, over OpenAI SSE or Ollama NDJSON."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING, Any, TypedDict

import httpx

from pytest_llmserver._util import Redactor, redact_url, without_secrets
from pytest_llmserver.client._api import ChatRequest, merge_extra
from pytest_llmserver.client._exchange import Exchange
from pytest_llmserver.client._keepalive import ConnectionPolicy
from pytest_llmserver.client._transport import (
    POST_HEADERS,
    Clock,
    Timeouts,
    make_http_client,
    pool_limits,
)
from pytest_llmserver.client._wire import DirectPost, WireTransport
from pytest_llmserver.client.errors import LLMError, LLMHTTPStatusError
from pytest_llmserver.client.metrics import ChatMetrics, estimate_tokens
from pytest_llmserver.client.protocols import chat_api
from pytest_llmserver.client.response import ChatResponse, ResponseBuilder, ToolCall
from pytest_llmserver.client.server import ServerRecord

if TYPE_CHECKING:
    from typing_extensions import Unpack

DEFAULT_TIMEOUTS = Timeouts()


class ChatOptions(TypedDict, total=False):
    """Keyword options of ``chat`` and ``chat_stream``."""

    system_prompt: str | None
    """Replaces the client's ``system_prompt`` for this call (unless the history has one)."""
    max_tokens: int | None
    """Replaces the client's ``max_tokens`` for this call."""


class RequestOptions(TypedDict, total=False):
    """Keyword options of ``stream``, ``complete`` and ``chat_with_tools``."""

    tool_choice: str | dict[str, Any] | None
    """OpenAI's ``tool_choice`` (sent only with tools; Ollama has none)."""
    enable_thinking: bool | None
    """Ask a reasoning model to think, or not (``None``: the server's default)."""
    max_tokens: int | None
    """Replaces the client's ``max_tokens`` for this call."""
    stream: bool
    """Stream the reply (default) or take it whole."""
    extra_body: dict[str, Any] | None
    """Merged into this request's body under the client's own ``extra_body`` (whose keys
    win), e.g. a workload's ``ignore_eos``."""


def _bearer(http: httpx.AsyncClient) -> str | None:
    """The token of a shared client's ``Authorization: Bearer`` header, to keep it secret."""
    value = http.headers.get("authorization", "")
    return value[7:].strip() or None if value[:7].lower() == "bearer " else None


def _refused(exc: LLMHTTPStatusError, field: str) -> bool:
    """True when the server refused the request naming ``field`` (HTTP 400 or 422)."""
    return exc.status_code in (400, 422) and field in exc.server_message


def _drop_seed(body: dict[str, Any]) -> bool:
    """Take the sampling seed out of ``body`` (top level or Ollama's ``options``); whether
    there was one."""
    options = body.get("options")
    found = body.pop("seed", None) is not None
    if isinstance(options, dict):
        found = options.pop("seed", None) is not None or found
    return found


def _checked(options: Mapping[str, object], allowed: type, method: str) -> None:
    unknown = sorted(set(options) - set(allowed.__annotations__))
    if unknown:
        raise TypeError(f"{method}() got an unexpected keyword argument {unknown[0]!r}")


class ModelClient:
    """Chat with ``model`` on ``server`` and measure every request.

    ``server`` is a ``ServerRecord`` or a dict with ``url`` and ``type`` (``openai``|``ollama``).
    Pass ``http_client`` to share one pool across clients (it is then not closed here).

    Whatever a server sends, a request ends in a response or an ``LLMError`` subclass, within
    ``timeouts.total_s`` of time spent waiting on the network, having read at most the caps
    of ``client.limits``; figures outside physical ranges are named in
    ``ChatMetrics.suspect`` and dropped; no error text holds the API key or a URL password.
    """

    def __init__(
        self,
        server: ServerRecord | Mapping[str, Any],
        model: str,
        *,
        api_key: str | None = None,
        timeouts: Timeouts = DEFAULT_TIMEOUTS,
        concurrency: int = 4,
        max_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        top_p: float | None = None,
        system_prompt: str | None = None,
        include_usage: bool = True,
        parse_think_tags: bool = True,
        extra_body: dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock = time.perf_counter_ns,
    ) -> None:
        self.server = ServerRecord.coerce(server)
        self.model = model
        self.api = self.server.type
        self.protocol = chat_api(self.api)
        self.timeouts = timeouts
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.seed = seed
        """The sampling seed sent with every request (None: none); set to None when the
        server refuses it (``seed_refused`` then says so)."""
        self.seed_refused = False
        self.top_p = top_p
        self.system_prompt = system_prompt
        self.include_usage = include_usage
        self.parse_think_tags = parse_think_tags
        self.extra_body = extra_body
        """Merged into every request body (``merge_extra``: the client keeps ``model``,
        ``messages`` and ``stream``; an object merges into the body's, e.g. Ollama's
        ``options``)."""
        self._clock = clock
        self._owns_http = http_client is None
        own = None  # the client's own transport, when this client makes its pool
        if http_client is None and transport is None:
            own = WireTransport(pool_limits(concurrency), clock=clock)
        self._http = http_client or make_http_client(
            concurrency=concurrency,
            timeouts=timeouts,
            api_key=api_key,
            headers=headers,
            transport=transport or own,
        )
        url = self.protocol.chat_url(self.server)
        direct = None  # past httpx's client layer: only where httpx would add nothing
        target = httpx.URL(url)
        if (
            own is not None
            and (api_key or not target.userinfo)
            and self._http._transport_for_url(target) is own  # not through a proxy (env)
        ):
            direct = DirectPost(self._http, own, url, POST_HEADERS)
        self.chat_url = redact_url(url)
        """The chat endpoint as messages and metrics name it (any URL password redacted)."""
        shown = without_secrets(dict(headers or {}))
        secret_headers = [v for k, v in (headers or {}).items() if k not in shown]
        self._redactor = Redactor([api_key, _bearer(self._http), *secret_headers], urls=[url])
        policy = ConnectionPolicy.for_kind(self.server.kind)
        self._exchange = Exchange(
            self._http, self.protocol, url, self.chat_url, timeouts, clock, policy, direct
        )
        self.last_metrics: ChatMetrics | None = None
        self.last_response: ChatResponse | None = None

    async def __aenter__(self) -> ModelClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP pool if this client made it."""
        if self._owns_http:
            await self._http.aclose()

    # Conversation helpers -------------------------------------------------------------------

    def _messages(
        self, message: str, history: list[dict[str, Any]] | None, system_prompt: str | None
    ) -> list[dict[str, Any]]:
        system = system_prompt if system_prompt is not None else self.system_prompt
        messages: list[dict[str, Any]] = []
        if system and not (history and history[0].get("role") == "system"):
            messages.append({"role": "system", "content": system})
        messages.extend(history or ())
        messages.append({"role": "user", "content": message})
        return messages

    def tool_result_message(self, call: ToolCall, content: str) -> dict[str, Any]:
        """The message that answers ``call``, in this server's format."""
        return self.protocol.tool_result_message(call, content)

    # Public chat API ------------------------------------------------------------------------

    async def chat_stream(
        self,
        message: str,
        history: list[dict[str, Any]] | None = None,
        enable_thinking: bool | None = None,
        **options: Unpack[ChatOptions],
    ) -> AsyncIterator[str]:
        """Stream the answer text (reasoning excluded); metrics land in ``last_metrics``.

        Options: ``system_prompt``, ``max_tokens`` (see ``ChatOptions``).
        """
        _checked(options, ChatOptions, "chat_stream")
        messages = self._messages(message, history, options.get("system_prompt"))
        async for piece in self.stream(
            messages, enable_thinking=enable_thinking, max_tokens=options.get("max_tokens")
        ):
            yield piece

    async def chat(
        self,
        message: str,
        history: list[dict[str, Any]] | None = None,
        enable_thinking: bool | None = None,
        **options: Unpack[ChatOptions],
    ) -> str:
        """The whole answer (reasoning excluded, leading white space removed)."""
        parts = [p async for p in self.chat_stream(message, history, enable_thinking, **options)]
        return "".join(parts).lstrip()

    async def chat_with_tools(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        **options: Unpack[RequestOptions],
    ) -> ChatResponse:
        """One model turn with ``tools`` offered; tool calls are returned, not executed."""
        return await self.complete(messages, tools=tools, **options)

    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        **options: Unpack[RequestOptions],
    ) -> ChatResponse:
        """Run one request to the end and return the whole response."""
        _checked(options, RequestOptions, "stream")
        async for _ in self._request(messages, tools, options, deliver=False):
            pass  # nothing is yielded
        assert self.last_response is not None
        return self.last_response

    async def stream(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        **options: Unpack[RequestOptions],
    ) -> AsyncIterator[str]:
        """Yield answer text as it arrives; set ``last_response``/``last_metrics`` at the end.

        Options: ``tool_choice``, ``enable_thinking``, ``max_tokens``, ``stream`` (see
        ``RequestOptions``). Raises an ``LLMError`` subclass for every failure. An OpenAI
        server that refuses ``stream_options`` gets the request again without it (recorded as
        ``usage_fallback``) and the client stops asking for it; one that refuses ``seed``
        gets it again without the seed (``seed_refused``) and the client stops sending it; the
        only other repeat is ``post_traced``'s stale-connection retry.
        """
        _checked(options, RequestOptions, "stream")
        async for piece in self._request(messages, tools, options, deliver=True):
            yield piece

    # The request ------------------------------------------------------------------------------

    async def _request(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None,
        options: RequestOptions,
        *,
        deliver: bool,
    ) -> AsyncIterator[str]:
        limit = options.get("max_tokens")
        request = ChatRequest(
            model=self.model,
            messages=messages,
            stream=options.get("stream", True),
            include_usage=self.include_usage,
            max_tokens=limit if limit is not None else self.max_tokens,
            temperature=self.temperature,
            seed=self.seed,
            top_p=self.top_p,
            tools=tools,
            tool_choice=options.get("tool_choice"),
            enable_thinking=options.get("enable_thinking"),
            extra=_extra(options.get("extra_body"), self.extra_body),
        )
        body = self.protocol.body(request)
        try:
            async for piece in self._send(body, messages, deliver=deliver):
                yield piece
        except LLMHTTPStatusError as exc:
            if self.seed is not None and _refused(exc, "seed") and _drop_seed(body):
                self.seed, self.seed_refused = None, True
                async for piece in self._request(messages, tools, options, deliver=deliver):
                    yield piece
                return
            if "stream_options" not in body or not _refused(exc, "stream_options"):
                raise
            self.include_usage = False
            del body["stream_options"]
            async for piece in self._send(body, messages, deliver=deliver, usage_fallback=True):
                yield piece

    async def _send(
        self,
        body: dict[str, Any],
        messages: list[dict[str, Any]],
        *,
        deliver: bool,
        usage_fallback: bool = False,
    ) -> AsyncIterator[str]:
        builder = ResponseBuilder(parse_think_tags=self.parse_think_tags)
        metrics = ChatMetrics(
            model=self.model, api=self.api, url=self.chat_url, usage_fallback=usage_fallback
        )
        try:
            async for piece in self._exchange.run(body, builder, metrics, deliver):
                yield piece
        except LLMError as exc:
            exc.metrics = self._finish(builder, metrics, messages)
            exc.partial = builder.build(metrics, self.api)
            self._redact(exc)
            raise
        self.last_metrics = self._finish(builder, metrics, messages)
        self.last_response = builder.build(metrics, self.api)

    def _redact(self, exc: LLMError) -> None:
        """Take this client's secrets (API key, URL password) out of ``exc``'s text."""
        redact = self._redactor.text
        exc.args = (redact(str(exc)), *exc.args[1:])
        exc.url = self.chat_url
        if isinstance(exc, LLMHTTPStatusError):
            exc.server_message = redact(exc.server_message)

    def _finish(
        self, builder: ResponseBuilder, metrics: ChatMetrics, messages: list[dict[str, Any]]
    ) -> ChatMetrics:
        prompt_text = "".join(str(m.get("content") or "") for m in messages)
        prompt_estimate = estimate_tokens(prompt_text) + 4 * len(messages)
        builder.clock.finish(metrics, builder.counts, prompt_estimate=prompt_estimate)
        metrics.finish_reason = builder.finish_reason
        return metrics


def _extra(request: dict[str, Any] | None, client: dict[str, Any] | None) -> dict[str, Any] | None:
    """The request's extra body fields under the client's (the user's own win)."""
    if not request:
        return client
    return merge_extra(dict(request), client)
