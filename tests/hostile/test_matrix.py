"""Every fault of the hostile server x both protocols through ``ModelClient``: the documented
outcome (a response, or that exact ``LLMError``), nothing else, and never a hang."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pytest_llmserver.client import LLMError
from tests.hostile.catalog import CATALOG
from tests.hostile.context import OUTCOMES, Fault
from tests.hostile.matrix import APIS, TOTAL_S, run_case
from tests.hostile.replies import Api
from tests.hostile.server import HostileServer, HostileThread

NO_HANG_S = TOTAL_S + 3.0
"""A generous bound for every case: the total deadline plus room for a busy machine (the
tight one, 0.25 s, is ``tests/client/test_deadline.py``'s, marked ``timing``)."""


@pytest.fixture(scope="module")
def hostile_url() -> Iterator[str]:
    with HostileThread(HostileServer()) as server:
        yield server.url


CASES = [pytest.param(f, api, id=f"{f.name}-{api}") for f in CATALOG.values() for api in APIS]


@pytest.mark.parametrize(("fault", "api"), CASES)
async def test_fault_gives_its_documented_outcome(hostile_url: str, fault: Fault, api: Api) -> None:
    case = await run_case(hostile_url, fault, api)
    assert case.label == fault.outcome(api), case.error
    assert case.elapsed_s < NO_HANG_S
    if case.error is not None:
        assert isinstance(case.error, LLMError)
        assert case.error.metrics is not None  # what was measured before the failure is kept
        assert "\n" not in str(case.error)  # one precise line
        assert case.error.url.endswith("/v1/chat/completions" if api == "openai" else "/api/chat")
    if fault.check is not None and case.response is not None:
        fault.check(case.response)
    if fault.check_error is not None and case.error is not None:
        fault.check_error(case.error)


def test_the_catalog_covers_every_outcome_on_both_protocols() -> None:
    seen = {f.outcome(api) for f in CATALOG.values() for api in APIS}
    assert seen == set(OUTCOMES)
