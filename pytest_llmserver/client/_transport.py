"""HTTP plumbing under the client: time limits, the pool, the send trace, httpx errors mapped.

Nothing here knows a chat protocol; ``ModelClient`` and discovery build on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from pytest_llmserver.client._keepalive import ConnectionPolicy, was_reset, watch_attempt
from pytest_llmserver.client._wire import DirectPost, WireTransport, mocked
from pytest_llmserver.client.errors import (
    LLMConnectError,
    LLMError,
    LLMProtocolError,
    LLMStreamClosedError,
    LLMTimeoutError,
)
from pytest_llmserver.client.metrics import ChatMetrics

if TYPE_CHECKING:
    from pytest_llmserver.client._deadline import Deadline

Clock = Callable[[], int]
"""A nanosecond clock (``time.perf_counter_ns`` unless a test supplies its own)."""


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
    clock: Clock = time.perf_counter_ns,
) -> httpx.AsyncClient:
    """One shared client on the client's own transport (``WireTransport``), its pool sized
    to ``concurrency``, stamping arrivals with ``clock``; or on ``transport`` when given.

    An ``api_key`` goes out as ``Authorization: Bearer`` on every request, also when the URL
    holds a ``user:password`` (without a key, httpx sends those as ``Basic`` credentials)."""
    all_headers = dict(headers or {})
    if api_key:
        all_headers["Authorization"] = f"Bearer {api_key}"
    limits = pool_limits(concurrency)
    return httpx.AsyncClient(
        limits=limits,
        timeout=httpx.Timeout(
            connect=timeouts.connect_s,
            read=timeouts.read_s,
            write=timeouts.connect_s,
            pool=timeouts.total_s,
        ),
        headers=all_headers,
        auth=BearerAuth(api_key) if api_key else None,
        transport=transport if transport is not None else WireTransport(limits, clock=clock),
        mounts=env_proxy_mounts(limits)
        if transport is None or isinstance(transport, WireTransport)
        else None,
    )


def env_proxy_mounts(limits: httpx.Limits) -> dict[str, httpx.AsyncBaseTransport | None]:
    """The proxies of ``HTTP_PROXY`` / ``HTTPS_PROXY`` / ``ALL_PROXY`` / ``NO_PROXY`` mounted
    as httpx mounts them for a client of its own making (httpx reads the environment only
    when it makes the transport); requests through a proxy use httpx's transport."""
    from httpx._utils import get_environment_proxies  # httpx's reading of the variables

    return {
        pattern: None if proxy is None else httpx.AsyncHTTPTransport(proxy=proxy, limits=limits)
        for pattern, proxy in get_environment_proxies().items()
    }


def pool_limits(concurrency: int) -> httpx.Limits:
    """A pool of ``concurrency`` connections (at least one), every one kept alive."""
    size = max(1, concurrency)
    return httpx.Limits(max_connections=size, max_keepalive_connections=size)


class BearerAuth(httpx.Auth):
    """The API key as a bearer token; as the client's auth it outranks a URL's user-info."""

    def __init__(self, key: str) -> None:
        self._value = f"Bearer {key}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._value
        yield request


# httpx exceptions -> our errors -------------------------------------------------------------

_ErrorFactory = Callable[[httpx.HTTPError, str, "Timeouts | None"], LLMError]


def _connect_timeout(exc: httpx.HTTPError, url: str, limits: Timeouts | None) -> LLMError:
    after = f" after {limits.connect_s:g} s" if limits else ""
    return LLMTimeoutError(f"connect to {url} timed out{after}", url=url, phase="connect")


def _connect(exc: httpx.HTTPError, url: str, limits: Timeouts | None) -> LLMError:
    return LLMConnectError(f"cannot connect to {url}: {str(exc) or 'refused'}", url=url)


def _read_timeout(exc: httpx.HTTPError, url: str, limits: Timeouts | None) -> LLMError:
    during = f" for {limits.read_s:g} s" if limits else ""
    return LLMTimeoutError(
        f"no data from {url}{during} (read inactivity timeout)", url=url, phase="read"
    )


def _other_timeout(exc: httpx.HTTPError, url: str, limits: Timeouts | None) -> LLMError:
    return LLMTimeoutError(f"{type(exc).__name__} talking to {url}", url=url)


def _broken(exc: httpx.HTTPError, url: str, limits: Timeouts | None) -> LLMError:
    return LLMStreamClosedError(
        f"connection to {url} broke mid-response: {str(exc) or type(exc).__name__}", url=url
    )


def _other(exc: httpx.HTTPError, url: str, limits: Timeouts | None) -> LLMError:
    return LLMProtocolError(f"HTTP failure talking to {url}: {exc}", url=url)


HTTPX_ERRORS: tuple[tuple[type[httpx.HTTPError], _ErrorFactory], ...] = (
    (httpx.ConnectTimeout, _connect_timeout),
    (httpx.ConnectError, _connect),
    (httpx.ReadTimeout, _read_timeout),
    (httpx.TimeoutException, _other_timeout),
    (httpx.RemoteProtocolError, _broken),
    (httpx.ReadError, _broken),
    (httpx.HTTPError, _other),
)
"""httpx exception -> our error, first match wins (so the more specific rows come first)."""


def llm_error(exc: httpx.HTTPError, url: str, timeouts: Timeouts | None = None) -> LLMError:
    """The ``LLMError`` for an httpx failure talking to ``url`` (limits quoted when given)."""
    for kind, make in HTTPX_ERRORS:
        if isinstance(exc, kind):
            return make(exc, url, timeouts)
    raise AssertionError("HTTPX_ERRORS ends with httpx.HTTPError")  # pragma: no cover


@contextmanager
def map_http_errors(url: str, timeouts: Timeouts | None = None) -> Iterator[None]:
    """Turn every httpx failure inside the block into its ``LLMError`` (``from`` the original)."""
    try:
        yield
    except httpx.HTTPError as exc:
        raise llm_error(exc, url, timeouts) from exc


# The send, traced ---------------------------------------------------------------------------


class SendTrace:
    """httpx ``trace`` callback: stamps connect and "request fully written", and tells the
    request's ``Deadline`` (if any) what the request now waits for."""

    __slots__ = (
        "_clock",
        "_deadline",
        "connect_end_ns",
        "connect_start_ns",
        "headers_start_ns",
        "sent_ns",
    )

    def __init__(self, clock: Clock, deadline: Deadline | None = None) -> None:
        self._clock = clock
        self._deadline = deadline
        self.connect_start_ns = 0
        self.connect_end_ns = 0
        self.headers_start_ns = 0
        self.sent_ns = 0

    async def __call__(self, name: str, info: Mapping[str, Any]) -> None:
        t_ns = self._clock()
        stage = ""
        if name == "connection.connect_tcp.started":
            self.connect_start_ns = t_ns
        elif name in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            self.connect_end_ns = t_ns
        elif name.endswith("send_request_headers.started"):
            self.headers_start_ns = self.headers_start_ns or t_ns
            stage = "the request to be sent"
        elif name.endswith("send_request_body.complete"):
            self.sent_ns = t_ns
            stage = "the response headers"
        if stage and self._deadline is not None:
            self._deadline.stage = stage

    def fill(self, metrics: ChatMetrics) -> None:
        """Set send time, pool wait and connect time; fall back to the call time untraced."""
        call = metrics.t_call_ns
        first_io = self.connect_start_ns or self.headers_start_ns
        metrics.send_traced = bool(self.sent_ns)
        metrics.t_send_ns = self.sent_ns or call
        metrics.pool_wait_s = (first_io - call) * 1e-9 if first_io else None
        if self.connect_start_ns and self.connect_end_ns:
            metrics.connect_s = (self.connect_end_ns - self.connect_start_ns) * 1e-9


POST_HEADERS = {"Content-Type": "application/json", "Accept-Encoding": "identity"}
"""The headers of every chat request (the body is JSON; no compression is asked for)."""


async def post_traced(
    http: httpx.AsyncClient,
    url: str,
    content: bytes,
    metrics: ChatMetrics,
    clock: Clock,
    deadline: Deadline | None = None,
    policy: ConnectionPolicy | None = None,
    direct: DirectPost | None = None,
) -> httpx.Response:
    """POST JSON ``content``; return the response once its headers are in (body unread).

    Stamps ``metrics`` (call, send, pool wait, connect). The one repeat is the keep-alive
    retry of ``_keepalive``: a request on a reused connection that failed before any
    response byte *and* was reset (so the server never read it) is sent once more, on a new
    connection, and recorded as ``stale_connection_retry``; the timing is that of the request
    that was answered. A clean close is never retried; it turns ``policy`` to a fresh
    connection per request. httpx errors are raised as they are. ``direct`` (the client's own
    transport, past httpx's client layer) is taken unless a test mock is active.
    """
    close = policy is not None and policy.close_each
    headers = {**POST_HEADERS, "Connection": "close"} if close else POST_HEADERS
    if direct is not None and mocked():
        direct = None
    for attempt in range(2):
        trace = SendTrace(clock, deadline)
        evidence = watch_attempt()
        try:
            if direct is not None:
                metrics.t_call_ns = clock()
                response = await direct.post(content, trace, close)
            else:
                request = http.build_request(
                    "POST", url, content=content, headers=headers, extensions={"trace": trace}
                )
                metrics.t_call_ns = clock()
                response = await http.send(request, stream=True)
        except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
            reused = not trace.connect_start_ns and trace.headers_start_ns
            if attempt or not reused or evidence.received_bytes:
                raise
            if not was_reset(exc, evidence):
                if policy is not None:
                    policy.close_each = True  # it closes after replies: never race it again
                raise
            metrics.stale_connection_retry = True
            continue
        trace.fill(metrics)
        return response
    raise AssertionError("unreachable")
