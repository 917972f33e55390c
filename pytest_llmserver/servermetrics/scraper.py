"""Scraping during a run: discovery of the target's ``/metrics`` (or Ollama's ``/api/ps``)
and of the extra URLs, and a background thread with its own small HTTP client that samples
every endpoint on an interval until the run ends."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from pytest_llmserver._util import redact_url
from pytest_llmserver.servermetrics.families import family_of
from pytest_llmserver.servermetrics.prom import MetricsError, parse_prometheus
from pytest_llmserver.servermetrics.series import Endpoint, Sample, Series
from pytest_llmserver.servermetrics.targets import AUTO, OFF

if TYPE_CHECKING:
    import httpx

TIMEOUT_S = 2.0
"""Longest one scrape may take (connect, read); a slow endpoint never holds up the run."""
MAX_SAMPLES = 50_000
"""Samples kept per run (a day at 1 s for one endpoint); later ones are counted, not kept."""
SETTLE_S = 0.25
"""Wait after the run before the last scrape, so counters bumped at a request's end count."""


def _root(url: str) -> str:
    """The server's root URL (a trailing ``/v1`` or ``/`` dropped)."""
    base = url.rstrip("/")
    return base.removesuffix("/v1") if base.endswith("/v1") else base


def _get(client: httpx.Client, url: str, headers: dict[str, str]) -> httpx.Response:
    """GET ``url``; a transport failure as ``MetricsError`` of one line."""
    import httpx

    try:
        return client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        detail = str(exc).splitlines()[0] if str(exc) else ""
        raise MetricsError(
            f"{redact_url(url)} did not answer: {type(exc).__name__}"
            + (f": {detail}" if detail else "")
        ) from None


def probe(client: httpx.Client, url: str, headers: dict[str, str]) -> Endpoint:
    """The Prometheus endpoint at ``url`` with its family; ``MetricsError`` when it does not
    answer 200 with Prometheus text."""
    response = _get(client, url, headers)
    if response.status_code != 200:
        raise MetricsError(f"{redact_url(url)} answered HTTP {response.status_code}")
    scrape = parse_prometheus(response.text, redact_url(url))
    names = [*scrape.values, *scrape.buckets]
    return Endpoint(url, "prometheus", family_of(names).name, headers)


def discover(
    client: httpx.Client,
    targets: Sequence[str],
    server_url: str,
    api_type: str,
    api_key: str | None,
) -> tuple[list[Endpoint], list[str]]:
    """The endpoints to scrape and notes on the target's own. The target (``auto``): its
    ``/metrics``, else for Ollama its ``/api/ps``; what does not work there is a note. Each
    extra URL must answer Prometheus text: ``MetricsError`` otherwise."""
    if OFF in targets:
        return [], []
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    endpoints: list[Endpoint] = []
    notes: list[str] = []
    root = _root(server_url)
    if AUTO in targets:
        try:
            endpoints.append(probe(client, f"{root}/metrics", headers))
        except MetricsError as exc:
            ollama = _ollama_ps(client, root, headers) if api_type == "ollama" else None
            if ollama is not None:
                endpoints.append(ollama)
            else:
                notes.append(f"not scraped: {exc}")
    for url in targets:
        if url != AUTO and all(e.url != url for e in endpoints):
            endpoints.append(probe(client, url, {}))
    return endpoints, notes


def _ollama_ps(client: httpx.Client, root: str, headers: dict[str, str]) -> Endpoint | None:
    """Ollama's ``/api/ps`` when it answers with its JSON."""
    url = f"{root}/api/ps"
    try:
        response = _get(client, url, headers)
        models = response.json().get("models") if response.status_code == 200 else None
    except (MetricsError, ValueError, AttributeError):
        return None
    return Endpoint(url, "ollama_ps", "ollama", headers) if isinstance(models, list) else None


def ps_models(data: Any) -> list[dict[str, Any]]:
    """Ollama ``/api/ps`` JSON → the loaded models: name, bytes in memory (and in VRAM),
    expiry."""
    models = data.get("models") if isinstance(data, dict) else None
    out: list[dict[str, Any]] = []
    for model in models if isinstance(models, list) else []:
        if isinstance(model, dict):
            out.append(
                {
                    "name": str(model.get("name") or model.get("model") or "?"),
                    "size_bytes": model.get("size"),
                    "size_vram_bytes": model.get("size_vram"),
                    "expires_at": model.get("expires_at"),
                }
            )
    return out


class Scraper:
    """Samples ``endpoints`` every ``interval_s`` on a daemon thread while entered: once on
    entry (the baseline), then on the interval, and once more on exit (after ``SETTLE_S``).
    The thread is joined on exit; a scrape never takes more than ``TIMEOUT_S``."""

    def __init__(
        self,
        endpoints: Sequence[Endpoint],
        interval_s: float,
        client: httpx.Client,
        notes: Sequence[str] = (),
    ) -> None:
        self.series = Series(endpoints=list(endpoints), interval_s=interval_s, notes=list(notes))
        self._client = client
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="llm-server-metrics", daemon=True)
        self._dropped = 0

    def __enter__(self) -> Scraper:
        if self.series.endpoints:
            self.scrape_all()
            self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join(timeout=TIMEOUT_S * len(self.series.endpoints) + 1.0)
            if self._thread.is_alive():
                self.series.notes.append("the scrape thread did not stop in time; left behind")
            elif kind is None:
                time.sleep(SETTLE_S)
                self.scrape_all()
        self._client.close()
        if self._dropped:
            self.series.notes.append(f"{self._dropped} samples beyond {MAX_SAMPLES} not kept")

    def _loop(self) -> None:
        interval = self.series.interval_s
        due = time.perf_counter() + interval
        while not self._stop.wait(max(0.0, due - time.perf_counter())):
            self.scrape_all()
            due = max(due + interval, time.perf_counter())

    def scrape_all(self) -> None:
        """One sample of every endpoint (failures kept as samples with their error)."""
        for endpoint in self.series.endpoints:
            sample = self._sample(endpoint)
            if len(self.series.samples) < MAX_SAMPLES:
                self.series.samples.append(sample)
            else:
                self._dropped += 1

    def _sample(self, endpoint: Endpoint) -> Sample:
        t_unix, t_perf = time.time(), time.perf_counter()
        sample = Sample(endpoint.url, t_unix, t_perf)
        try:
            response = _get(self._client, endpoint.url, endpoint.headers)
            if response.status_code != 200:
                raise MetricsError(f"answered HTTP {response.status_code}")
            if endpoint.kind == "ollama_ps":
                sample.models = ps_models(response.json())
            else:
                sample.scrape = parse_prometheus(response.text, redact_url(endpoint.url))
        except (MetricsError, ValueError) as exc:
            sample.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return sample


def open_scraper(
    targets: Sequence[str],
    server_url: str,
    api_type: str,
    api_key: str | None = None,
    interval_s: float = 1.0,
) -> Scraper:
    """A ``Scraper`` for a run against ``server_url`` (discovery done here, before the run);
    ``MetricsError`` when an extra URL is unusable. With ``off``: one that scrapes nothing."""
    import httpx

    timeout = httpx.Timeout(TIMEOUT_S, connect=min(TIMEOUT_S, 1.0))
    client = httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False)
    try:
        endpoints, notes = discover(client, targets, server_url, api_type, api_key)
    except MetricsError:
        client.close()
        raise
    return Scraper(endpoints, interval_s, client, notes)
