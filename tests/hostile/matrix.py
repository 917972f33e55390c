"""The fault matrix: every fault of the catalog x both protocols, through ``ModelClient``.

``python -m tests.hostile.matrix`` prints it as a markdown table (case x protocol -> outcome);
``tests/hostile/test_matrix.py`` asserts every cell is the documented outcome.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass

from pytest_llmserver._util import md_table
from pytest_llmserver.client import (
    ChatResponse,
    LLMContextOverflowError,
    LLMHTTPStatusError,
    LLMProtocolError,
    LLMServerEventError,
    LLMStreamClosedError,
    LLMTimeoutError,
    ModelClient,
    Timeouts,
)
from tests.hostile.catalog import CATALOG
from tests.hostile.context import Fault
from tests.hostile.faults_wire import API_KEY
from tests.hostile.replies import MODELS, Api
from tests.hostile.server import HostileServer, HostileThread

APIS: tuple[Api, ...] = ("openai", "ollama")
TOTAL_S = 0.3
"""The total deadline of every matrix request (slow faults end by it)."""
TIMEOUTS = Timeouts(connect_s=1.0, read_s=5.0, total_s=TOTAL_S)
TOOL = {"type": "function", "function": {"name": "calculator", "parameters": {"type": "object"}}}

ERRORS: dict[type[BaseException], str] = {
    LLMProtocolError: "protocol",
    LLMStreamClosedError: "closed",
    LLMTimeoutError: "timeout",
    LLMHTTPStatusError: "http_status",
    LLMContextOverflowError: "context_overflow",
    LLMServerEventError: "server_error_event",
}
"""Exact exception type -> outcome label (``closed`` is error class ``protocol``)."""

LEGEND = (
    "ok: a response; protocol: LLMProtocolError; closed: LLMStreamClosedError (error class "
    "protocol); timeout: LLMTimeoutError (total deadline); http_status / context_overflow / "
    "server_error_event: the LLMError of that class. Any other exception would show as "
    "UNDOCUMENTED."
)


@dataclass
class Case:
    """One cell: what the client returned or raised, and how long it took."""

    fault: Fault
    api: Api
    label: str
    response: ChatResponse | None
    error: Exception | None
    elapsed_s: float

    @property
    def expected(self) -> str:
        return self.fault.outcome(self.api)

    @property
    def shown(self) -> str:
        """The cell as printed: the label, with the suspect figures of an ``ok``."""
        if self.response is not None and self.response.metrics.suspect:
            return f"ok, suspect: {', '.join(self.response.metrics.suspect)}"
        return self.label


def label(error: BaseException | None) -> str:
    if error is None:
        return "ok"
    return ERRORS.get(type(error), f"UNDOCUMENTED {type(error).__name__}: {error}")


async def run_case(base_url: str, fault: Fault, api: Api) -> Case:
    """Send one request to a server that plays ``fault``; never raises."""
    url = base_url.rstrip("/") + "/fault/" + fault.name
    started = time.perf_counter()
    response: ChatResponse | None = None
    error: Exception | None = None
    try:
        async with ModelClient(
            {"url": url, "type": api}, MODELS[0], api_key=API_KEY, timeouts=TIMEOUTS
        ) as client:
            response = await client.complete(
                [{"role": "user", "content": "hi"}], tools=[TOOL], stream=fault.stream
            )
    except Exception as exc:  # the matrix classifies whatever comes out
        error = exc
    elapsed = time.perf_counter() - started
    return Case(fault, api, label(error), response, error, elapsed)


async def run_matrix(base_url: str) -> list[Case]:
    """Every fault x both protocols, one after the other."""
    return [await run_case(base_url, f, api) for f in CATALOG.values() for api in APIS]


def table(cases: list[Case]) -> str:
    """The matrix as markdown: fault, what the server does, the outcome on each protocol."""
    cells = {(c.fault.name, c.api): c.shown for c in cases}
    rows = [
        [f.name, f.doc, cells.get((f.name, "openai"), ""), cells.get((f.name, "ollama"), "")]
        for f in CATALOG.values()
    ]
    return "\n".join(md_table(["case", "the server", "openai (SSE)", "ollama (NDJSON)"], rows))


def main() -> int:
    with HostileThread(HostileServer()) as server:
        cases = asyncio.run(run_matrix(server.url))
    print(table(cases))
    print()
    print(f"{len(cases)} cases ({len(CATALOG)} faults x {len(APIS)} protocols). {LEGEND}")
    wrong = [c for c in cases if c.label != c.expected]
    for case in wrong:
        print(f"NOT AS DOCUMENTED: {case.fault.name} on {case.api}: {case.label}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
