"""``ModelClient``: one model on one server, over OpenAI SSE or Ollama NDJSON."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from pytest_llmserver.client import ollama, openai
from pytest_llmserver.client.errors import (
    LLMConnectError,
    LLMError,
    LLMHTTPStatusError,
    LLMProtocolError,
    LLMStreamClosedError,
    LLMTimeoutError,
    status_error,
)
from pytest_llmserver.client.metrics import ChatMetrics, estimate_tokens
from pytest_llmserver.client.response import ChatResponse, ResponseBuilder, ToolCall
from pytest_llmserver.client.server import ServerRecord

Clock = Callable[[], int]


@dataclass(frozen=True)
class Timeouts:
    """Request time limits in seconds. ``read_s`` is inactivity between received bytes."""

    connect_s: float = 10.0
    read_s: float = 300.0
    total_s: float = 300.0

    @classmethod
    def from_total(cls, total_s: float) -> Timeouts:
        """Every limit derived from one per-request deadline."""
        return cls(connect_s=min(10.0, total_s), read_s=total_s, total_s=total_s)


def make_http_client(
    *,
    concurrency: int = 4,
    timeouts: Timeouts = Timeouts(),
    api_key: str | None = None,
    headers: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """One shared client with a pool sized to ``concurrency`` (httpx's default caps it)."""
    all_headers = dict(headers or {})
    if api_key:
        all_headers["Authorization"] = f"Bearer {api_key}"
    size = max(1, concurrency)
    return httpx.AsyncClient(
        limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
        timeout=httpx.Timeout(
            connect=timeouts.connect_s,
            read=timeouts.read_s,
            write=timeouts.connect_s,
            pool=timeouts.total_s,
        ),
        headers=all_headers,
        transport=transport,
    )


class _SendTrace:
    """httpx ``trace`` callback: stamps connect and "request fully written"."""

    __slots__ = ("_clock", "connect_end_ns", "connect_start_ns", "headers_start_ns", "sent_ns")

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.connect_start_ns = 0
        self.connect_end_ns = 0
        self.headers_start_ns = 0
        self.sent_ns = 0

    async def __call__(self, name: str, info: Mapping[str, Any]) -> None:
        t_ns = self._clock()
        if name == "connection.connect_tcp.started":
            self.connect_start_ns = t_ns
        elif name in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            self.connect_end_ns = t_ns
        elif name.endswith("send_request_headers.started"):
            self.headers_start_ns = self.headers_start_ns or t_ns
        elif name.endswith("send_request_body.complete"):
            self.sent_ns = t_ns

    def fill(self, metrics: ChatMetrics) -> None:
        """Set send time, pool wait and connect time; fall back to the call time untraced."""
        call = metrics.t_call_ns
        first_io = self.connect_start_ns or self.headers_start_ns
        metrics.send_traced = bool(self.sent_ns)
        metrics.t_send_ns = self.sent_ns or call
        metrics.pool_wait_s = (first_io - call) * 1e-9 if first_io else None
        if self.connect_start_ns and self.connect_end_ns:
            metrics.connect_s = (self.connect_end_ns - self.connect_start_ns) * 1e-9


def _server_message(body: bytes) -> str:
    try:
        obj = json.loads(body)
    except ValueError:
        text = body.decode("utf-8", "replace").strip()
        return text[:300] or "(empty body)"
    return openai.error_message(obj) if isinstance(obj, dict) else str(obj)[:300]


class ModelClient:
    """Chat with ``model`` on ``server`` and measure every request.

    ``server`` is a ``ServerRecord`` or a dict with ``url`` and ``type`` (``openai``|``ollama``).
    Pass ``http_client`` to share one pool across clients (it is then not closed here).
    """

    def __init__(
        self,
        server: ServerRecord | Mapping[str, Any],
        model: str,
        *,
        api_key: str | None = None,
        timeouts: Timeouts = Timeouts(),
        concurrency: int = 4,
        max_tokens: int | None = None,
        temperature: float | None = None,
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
        self.timeouts = timeouts
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.system_prompt = system_prompt
        self.include_usage = include_usage
        self.parse_think_tags = parse_think_tags
        self.extra_body = extra_body
        self._clock = clock
        self._owns_http = http_client is None
        self._http = http_client or make_http_client(
            concurrency=concurrency,
            timeouts=timeouts,
            api_key=api_key,
            headers=headers,
            transport=transport,
        )
        if self.api == "ollama":
            self.chat_url = self.server.root + ollama.CHAT_PATH
        else:
            self.chat_url = self.server.openai_base + openai.CHAT_PATH
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
        if self.api == "ollama":
            return ollama.tool_result_message(call.name, content)
        return openai.tool_result_message(call.id, content)

    # Public chat API ------------------------------------------------------------------------

    async def chat_stream(
        self,
        message: str,
        history: list[dict[str, Any]] | None = None,
        enable_thinking: bool | None = None,
        *,
        system_prompt: str | None = None,
        max_tokens: int | None = None,
    ) -> AsyncIterator[str]:
        """Stream the answer text (reasoning excluded); metrics land in ``last_metrics``."""
        messages = self._messages(message, history, system_prompt)
        async for piece in self.stream(
            messages, enable_thinking=enable_thinking, max_tokens=max_tokens
        ):
            yield piece

    async def chat(
        self,
        message: str,
        history: list[dict[str, Any]] | None = None,
        enable_thinking: bool | None = None,
        *,
        system_prompt: str | None = None,
        max_tokens: int | None = None,
    ) -> str:
        """The whole answer (reasoning excluded, leading white space removed)."""
        parts = [
            piece
            async for piece in self.chat_stream(
                message,
                history,
                enable_thinking,
                system_prompt=system_prompt,
                max_tokens=max_tokens,
            )
        ]
        return "".join(parts).lstrip()

    async def chat_with_tools(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        *,
        tool_choice: str | dict[str, Any] | None = None,
        enable_thinking: bool | None = None,
        max_tokens: int | None = None,
        stream: bool = True,
    ) -> ChatResponse:
        """One model turn with ``tools`` offered; tool calls are returned, not executed."""
        return await self.complete(
            messages,
            tools=tools,
            tool_choice=tool_choice,
            enable_thinking=enable_thinking,
            max_tokens=max_tokens,
            stream=stream,
        )

    async def complete(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        enable_thinking: bool | None = None,
        max_tokens: int | None = None,
        stream: bool = True,
    ) -> ChatResponse:
        """Run one request to the end and return the whole response."""
        async for _ in self.stream(
            messages,
            tools=tools,
            tool_choice=tool_choice,
            enable_thinking=enable_thinking,
            max_tokens=max_tokens,
            stream=stream,
        ):
            pass
        assert self.last_response is not None
        return self.last_response

    # The request ------------------------------------------------------------------------------

    def _body(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None,
        tool_choice: str | dict[str, Any] | None,
        enable_thinking: bool | None,
        max_tokens: int | None,
        stream: bool,
    ) -> dict[str, Any]:
        limit = max_tokens if max_tokens is not None else self.max_tokens
        if self.api == "ollama":
            return ollama.build_chat_body(
                self.model,
                messages,
                stream=stream,
                max_tokens=limit,
                temperature=self.temperature,
                tools=tools,
                enable_thinking=enable_thinking,
                extra=self.extra_body,
            )
        return openai.build_chat_body(
            self.model,
            messages,
            stream=stream,
            include_usage=self.include_usage,
            max_tokens=limit,
            temperature=self.temperature,
            tools=tools,
            tool_choice=tool_choice,
            enable_thinking=enable_thinking,
            extra=self.extra_body,
        )

    async def stream(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        enable_thinking: bool | None = None,
        max_tokens: int | None = None,
        stream: bool = True,
    ) -> AsyncIterator[str]:
        """Yield answer text as it arrives; set ``last_response``/``last_metrics`` at the end.

        Raises an ``LLMError`` subclass for every failure. An OpenAI server that refuses
        ``stream_options`` gets the request again without it (recorded as ``usage_fallback``)
        and the client stops asking for it; see ``_open`` for the only other repeat.
        """
        body = self._body(
            messages,
            tools=tools,
            tool_choice=tool_choice,
            enable_thinking=enable_thinking,
            max_tokens=max_tokens,
            stream=stream,
        )
        try:
            async for piece in self._send(body, messages):
                yield piece
        except LLMHTTPStatusError as exc:
            refused = exc.status_code in (400, 422) and "stream_options" in exc.server_message
            if "stream_options" not in body or not refused:
                raise
            self.include_usage = False
            del body["stream_options"]
            async for piece in self._send(body, messages, usage_fallback=True):
                yield piece

    async def _send(
        self,
        body: dict[str, Any],
        messages: list[dict[str, Any]],
        *,
        usage_fallback: bool = False,
    ) -> AsyncIterator[str]:
        url = self.chat_url
        builder = ResponseBuilder(parse_think_tags=self.parse_think_tags)
        metrics = ChatMetrics(
            model=self.model, api=self.api, url=url, usage_fallback=usage_fallback
        )
        try:
            async for piece in self._exchange(body, builder, metrics):
                yield piece
        except LLMError as exc:
            exc.metrics = self._finish(builder, metrics, messages)
            raise
        self.last_metrics = self._finish(builder, metrics, messages)
        self.last_response = builder.build(metrics, self.api)

    def _finish(
        self, builder: ResponseBuilder, metrics: ChatMetrics, messages: list[dict[str, Any]]
    ) -> ChatMetrics:
        prompt_text = "".join(str(m.get("content") or "") for m in messages)
        prompt_estimate = estimate_tokens(prompt_text) + 4 * len(messages)
        builder.clock.finish(metrics, builder.counts, prompt_estimate=prompt_estimate)
        metrics.finish_reason = builder.finish_reason
        return metrics

    async def _exchange(
        self, body: dict[str, Any], builder: ResponseBuilder, metrics: ChatMetrics
    ) -> AsyncIterator[str]:
        """One HTTP request; httpx failures become typed errors."""
        url = self.chat_url
        content = json.dumps(body, ensure_ascii=False).encode()
        try:
            response = await self._open(content, metrics)
            try:
                metrics.http_status = response.status_code
                if response.status_code >= 400:
                    message = _server_message(await response.aread())
                    raise status_error(response.status_code, message, url)
                if body.get("stream"):
                    deadline_ns = metrics.t_call_ns + int(self.timeouts.total_s * 1e9)
                    async for piece in self._read_stream(response, builder, deadline_ns):
                        yield piece
                else:
                    piece = self._read_whole(await response.aread(), builder)
                    if piece:
                        yield piece
            finally:
                await response.aclose()
        except LLMError:
            raise
        except httpx.ConnectTimeout as exc:
            raise LLMTimeoutError(
                f"connect to {url} timed out after {self.timeouts.connect_s:g} s",
                url=url,
                phase="connect",
            ) from exc
        except httpx.ConnectError as exc:
            raise LLMConnectError(f"cannot connect to {url}: {exc or 'refused'}", url=url) from exc
        except httpx.ReadTimeout as exc:
            raise LLMTimeoutError(
                f"no data from {url} for {self.timeouts.read_s:g} s (read inactivity timeout)",
                url=url,
                phase="read",
            ) from exc
        except httpx.TimeoutException as exc:
            raise LLMTimeoutError(f"{type(exc).__name__} talking to {url}", url=url) from exc
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            raise LLMStreamClosedError(
                f"connection to {url} broke mid-response: {exc or type(exc).__name__}", url=url
            ) from exc
        except httpx.HTTPError as exc:
            raise LLMProtocolError(f"HTTP failure talking to {url}: {exc}", url=url) from exc

    async def _open(self, content: bytes, metrics: ChatMetrics) -> httpx.Response:
        """Send the request; return the response once its headers are in.

        A reused keep-alive connection that the server had already closed (llama.cpp closes
        after every stream) fails before any response byte: the server never read the
        request. That one case is sent again, once, on a new connection, and recorded as
        ``stale_connection_retry``; the timing is that of the request that was answered.
        """
        for attempt in range(2):
            trace = _SendTrace(self._clock)
            request = self._http.build_request(
                "POST",
                self.chat_url,
                content=content,
                headers={"Content-Type": "application/json"},
                extensions={"trace": trace},
            )
            metrics.t_call_ns = self._clock()
            try:
                response = await self._http.send(request, stream=True)
            except httpx.RemoteProtocolError:
                if attempt or trace.connect_start_ns or not trace.sent_ns:
                    raise
                metrics.stale_connection_retry = True
                continue
            trace.fill(metrics)
            return response
        raise AssertionError("unreachable")

    def _read_whole(self, raw: bytes, builder: ResponseBuilder) -> str:
        """Decode a non-streamed reply; return its answer text."""
        t_ns = self._clock()
        url = self.chat_url
        if self.api == "ollama":
            decoder = ollama.NDJSONDecoder(builder, url)
            decoder.feed_line(raw, t_ns)
            if not decoder.done:
                raise LLMProtocolError(f'reply from {url} lacks "done": true', url=url)
        else:
            try:
                obj = json.loads(raw)
            except ValueError as exc:
                raise LLMProtocolError(
                    f"reply from {url} is not JSON: {raw[:120]!r}", url=url
                ) from exc
            openai.decode_completion(obj, builder, t_ns, url)
        builder.flush_text(t_ns)
        return "".join(builder.answer_parts)

    def _decoder(
        self, response: httpx.Response, builder: ResponseBuilder, url: str
    ) -> openai.SSEDecoder | ollama.NDJSONDecoder:
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        if content_type == "text/html":
            raise LLMProtocolError(
                f"{url} answered with an HTML page, not a {self.api} stream: is this an LLM API?",
                url=url,
            )
        if self.api == "ollama":
            return ollama.NDJSONDecoder(builder, url)
        if content_type not in ("text/event-stream", ""):
            raise LLMProtocolError(
                f"{url} answered with {content_type}, not text/event-stream", url=url
            )
        return openai.SSEDecoder(builder, url)

    async def _read_stream(
        self, response: httpx.Response, builder: ResponseBuilder, deadline_ns: int
    ) -> AsyncIterator[str]:
        """Split the body into lines, stamping each chunk on arrival, before any parsing."""
        url = self.chat_url
        decoder = self._decoder(response, builder, url)
        clock = self._clock
        feed = decoder.feed_line
        tail = b""
        t_ns = 0
        # Raw bytes skip httpx's decoder layer unless the server compressed the stream.
        encoded = "content-encoding" in response.headers
        async for chunk in response.aiter_bytes() if encoded else response.aiter_raw():
            t_ns = clock()
            if t_ns > deadline_ns:
                raise LLMTimeoutError(
                    f"{url} did not finish within {self.timeouts.total_s:g} s",
                    url=url,
                    phase="total",
                )
            if tail:
                chunk = tail + chunk
            lines = chunk.split(b"\n")
            tail = lines.pop()
            for line in lines:
                piece = feed(line, t_ns)
                if piece:
                    yield piece
        if tail:
            piece = feed(tail, t_ns)
            if piece:
                yield piece
        piece = decoder.end(t_ns) + builder.flush_text(t_ns)
        if piece:
            yield piece
        if not decoder.done and not builder.finish_reason:
            raise LLMStreamClosedError(f"stream from {url} ended before its end marker", url=url)
