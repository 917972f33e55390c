"""``--llm-server=sim``'s default model: the oracle, which also answers any other chat."""

from __future__ import annotations

from pytest_llmserver.servers import NO_TOOLS, ORACLE, SIM_DEFAULT_MODEL
from pytest_llmserver.servers.oracle import BenchPolicy
from pytest_llmserver.sim import SimRequest
from pytest_llmserver.toolbench import builtin_tasks


def request(model: str, text: str) -> SimRequest:
    messages = [{"role": "user", "content": text}]
    return SimRequest("openai", model, messages, [], None, None, True, {})


def test_the_default_is_the_oracle_and_it_chats() -> None:
    assert SIM_DEFAULT_MODEL == ORACLE
    policy = BenchPolicy(builtin_tasks())
    reply = policy.respond(request(ORACLE, "Say something about the sea."))
    assert len(reply.content.split()) == 32  # the simulator's default answer, not a refusal
    assert not reply.tool_calls
    scripted = policy.respond(request(NO_TOOLS, "Say something about the sea."))
    assert scripted.content == "I have no scripted answer for this conversation."
