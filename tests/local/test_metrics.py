"""The real llama.cpp server (``local``) serves its Prometheus ``/metrics``: the gauges the
capacity reports read, and token counters that match what the client received."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from pytest_llmserver.client import ServerRecord
from pytest_llmserver.local import LocalServer, LocalServerConfig

pytestmark = pytest.mark.realserver


@pytest.fixture(scope="module")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerRecord]:
    log: Path = tmp_path_factory.mktemp("local-metrics") / "server.log"
    with LocalServer(LocalServerConfig(log_path=log, parallel=2)) as record:
        yield record


def _samples(text: str) -> dict[str, float]:
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_local_server_serves_llamacpp_metrics(real_server: ServerRecord) -> None:
    with httpx.Client(base_url=real_server.url, timeout=60.0) as http:
        before = _samples(http.get("/metrics").text)
        reply = http.post(
            "/v1/chat/completions",
            json={
                "model": real_server.models[0],
                "messages": [{"role": "user", "content": "Count to twenty."}],
                "max_tokens": 8,
                "temperature": 0,
            },
        )
        reply.raise_for_status()
        response = http.get("/metrics")
    after = _samples(response.text)
    assert response.headers["content-type"].startswith("text/plain")
    assert "llamacpp:requests_processing" in after
    assert "llamacpp:requests_deferred" in after
    usage = reply.json()["usage"]
    predicted = after["llamacpp:tokens_predicted_total"] - before["llamacpp:tokens_predicted_total"]
    assert predicted == usage["completion_tokens"]
