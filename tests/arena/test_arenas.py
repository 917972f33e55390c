"""The prompt and model arenas against the simulator's scripted judges: the both-orders rule
turns position bias into ties, unparseable verdicts are never guessed, fair judges are followed."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from pytest_llmserver.arena import (
    SELF_JUDGE_WARNING,
    SYSTEM_PROMPTS,
    TEST_QUESTIONS,
    ArenaResult,
    JudgeResult,
    ModelArena,
    PromptArena,
    PromptResponse,
    blind_labels,
    write_arena_report,
)
from pytest_llmserver.client import ModelClient, ServerRecord
from pytest_llmserver.servers import JUDGE_MODELS
from pytest_llmserver.servers.judges import ArenaJudgePolicy
from pytest_llmserver.sim import (
    DefaultPolicy,
    FunctionPolicy,
    SimConfig,
    SimReply,
    SimRequest,
    SimServer,
    SimThread,
    TimingModel,
)

FAST = TimingModel(ttft_s=0.001, per_token_s=0.001)
MODEL_WORDS = {"sim-short": 6, "sim-mid": 14, "sim-long": 30}
PROMPT_WORDS = {"concise": 5, "plain": 12, "chain_of_thought": 24}
TWO_QUESTIONS = TEST_QUESTIONS[:2]


def contestant_reply(request: SimRequest) -> SimReply:
    """Answer length by model name, or for ``sim-small`` by the system prompt in use."""
    words = MODEL_WORDS.get(request.model)
    if words is None:
        system = next((m["content"] for m in request.messages if m.get("role") == "system"), "")
        key = next((k for k, p in SYSTEM_PROMPTS.items() if p["prompt"] == system), "")
        words = PROMPT_WORDS.get(key, 18)
    return DefaultPolicy(answer_tokens=words).respond(request)


@pytest.fixture
async def sim_url() -> AsyncIterator[str]:
    config = SimConfig(
        models=("sim-small", *MODEL_WORDS, *JUDGE_MODELS),
        policy=ArenaJudgePolicy(FunctionPolicy(contestant_reply)),
        timing=FAST,
    )
    async with SimServer(config) as server:
        yield server.url


def client(stack: AsyncExitStack, url: str, model: str, **kwargs: Any) -> ModelClient:
    made = ModelClient({"url": url, "type": "openai"}, model, concurrency=8, **kwargs)
    stack.push_async_callback(made.aclose)
    return made


async def model_arena(
    url: str, models: Sequence[str], judge: str, seed: int = 0, **judge_kwargs: Any
) -> ArenaResult:
    async with AsyncExitStack() as stack:
        arena = ModelArena(
            [(m, client(stack, url, m)) for m in models],
            judge=client(stack, url, judge, **judge_kwargs),
            questions=TWO_QUESTIONS,
            concurrency=8,
            seed=seed,
        )
        return await arena.run()


async def prompt_arena(url: str, judge: str | None, **kwargs: Any) -> ArenaResult:
    async with AsyncExitStack() as stack:
        arena = PromptArena(
            client(stack, url, "sim-small"),
            judge=None if judge is None else client(stack, url, judge),
            concurrency=8,
            **kwargs,
        )
        return await arena.run()


# --- arenas against the scripted judges --------------------------------------------------------


async def test_position_biased_judge_only_ties(sim_url: str) -> None:
    prompts = ["concise", "plain", "chain_of_thought"]
    result = await prompt_arena(sim_url, "judge-first", prompts=prompts, questions=TWO_QUESTIONS)
    assert len(result.matchups) == 3 * 2
    for matchup in result.matchups:
        assert matchup.outcome == "tie"
        assert matchup.position_bias
        assert [v.winner for v in matchup.verdicts] == ["A", "A"]
        assert [v.first for v in matchup.verdicts] == [matchup.left, matchup.right]
    for row in result.stats:
        assert (row.wins, row.losses, row.ties, row.unparseable) == (0, 0, 4, 0)
        assert row.win_rate == 0.5
        assert row.mean_score == pytest.approx(5.5)  # 8 when shown first, 3 when second
    assert result.warnings == []
    assert result.kind == "prompts"
    assert result.labels == {}


@pytest.mark.parametrize(
    ("judge", "think_tags"),
    [("judge-fenced", True), ("judge-fair", True), ("judge-fair", False)],
)
async def test_fair_judges_pick_the_longer_answer(
    sim_url: str, judge: str, think_tags: bool
) -> None:
    models = ["sim-short", "sim-long", "sim-mid"]
    result = await model_arena(sim_url, models, judge, parse_think_tags=think_tags)
    assert len(result.matchups) == 3 * 2
    for matchup in result.matchups:
        longer = max(matchup.left, matchup.right, key=MODEL_WORDS.__getitem__)
        assert matchup.outcome == longer
        assert not matchup.position_bias
        assert all(v.parsed and v.error is None for v in matchup.verdicts)
        assert sorted(str(v.winner) for v in matchup.verdicts) == ["A", "B"]
        if judge == "judge-fair":
            assert ("<think>" in matchup.verdicts[0].raw) is not think_tags
    assert [s.contestant for s in result.stats] == ["sim-long", "sim-mid", "sim-short"]
    top, middle, bottom = result.stats
    assert (top.wins, top.losses, top.win_rate, top.mean_score) == (4, 0, 1.0, 10.0)
    assert (middle.wins, middle.losses, middle.win_rate) == (2, 2, 0.5)
    assert (bottom.wins, bottom.losses, bottom.win_rate) == (0, 4, 0.0)
    assert top.score_n == 8
    clean_sweep = {"wins": 2, "losses": 0, "ties": 0, "unparseable": 0}
    assert top.per_question == {q["id"]: clean_sweep for q in TWO_QUESTIONS}


async def test_prose_judge_is_never_guessed(sim_url: str, tmp_path: Path) -> None:
    result = await model_arena(sim_url, ["sim-short", "sim-long"], "judge-prose")
    assert [m.outcome for m in result.matchups] == ["unparseable"] * 2
    for v in (v for m in result.matchups for v in m.verdicts):
        assert not v.parsed
        assert v.winner is None
        assert "lean towards Answer A" in v.raw
        assert v.error is not None
        assert v.error.startswith("unparseable: no JSON")
    for row in result.stats:
        assert (row.wins, row.losses, row.ties, row.unparseable) == (0, 0, 0, 2)
        assert row.win_rate is None
        assert row.mean_score is None
    md_path, _ = write_arena_report(result, tmp_path, "prose")
    md = md_path.read_text()
    assert "## Unparseable or failed verdicts (4)" in md
    assert "lean towards Answer A" in md


async def test_judge_never_sees_contestant_names(sim_url: str) -> None:
    sent: list[tuple[str, list[dict[str, Any]]]] = []

    def hook(kind: str, messages: list[dict[str, Any]], _: PromptResponse | JudgeResult) -> None:
        sent.append((kind, messages))

    prompts = ["concise", "atomic", "failure_first"]
    async with AsyncExitStack() as stack:
        await PromptArena(
            client(stack, sim_url, "sim-small"),
            judge=client(stack, sim_url, "judge-fair"),
            prompts=prompts,
            questions=TWO_QUESTIONS,
            on_transcript=hook,
        ).run()
    judged = [m for kind, m in sent if kind == "judge"]
    assert len(judged) == 3 * 2 * 2
    forbidden = [*prompts, "sim-small"]
    forbidden += [SYSTEM_PROMPTS[k][field] for k in prompts for field in ("name", "prompt")]
    for messages in judged:
        sent_text = json.dumps(messages[:-1])
        assert not [word for word in forbidden if word in sent_text]


async def test_prompt_arena_self_judging_and_transcripts(sim_url: str) -> None:
    calls: list[tuple[str, list[dict[str, Any]], PromptResponse | JudgeResult]] = []
    result = await prompt_arena(
        sim_url,
        None,
        prompts=["plain", "concise"],
        questions=TEST_QUESTIONS[:1],
        on_transcript=lambda kind, messages, record: calls.append((kind, messages, record)),
    )
    assert result.warnings == [SELF_JUDGE_WARNING]
    assert result.judge_model == "sim-small"
    assert [m.outcome for m in result.matchups] == ["unparseable"]  # filler words, no JSON
    assert Counter(kind for kind, _, _ in calls) == {"answer": 2, "judge": 2}
    for kind, messages, record in calls:
        assert messages[-1]["role"] == "assistant"
        if kind == "answer":
            assert isinstance(record, PromptResponse)
            key = record.contestant
            assert messages[0] == {"role": "system", "content": SYSTEM_PROMPTS[key]["prompt"]}
            assert messages[-1]["content"] == record.text
            assert record.output_tokens == PROMPT_WORDS[key]
        else:
            assert isinstance(record, JudgeResult)
            assert messages[-1]["content"] == record.raw


async def test_prompt_arena_arguments(sim_url: str) -> None:
    async with ModelClient({"url": sim_url, "type": "openai"}, "sim-small") as c:
        assert PromptArena(c).prompts == list(SYSTEM_PROMPTS)
        assert PromptArena(c).questions == TEST_QUESTIONS
        with pytest.raises(ValueError, match=r"unknown system prompt.*'nope'.*known: plain, "):
            PromptArena(c, prompts=["plain", "nope"])
        with pytest.raises(ValueError, match="at least two"):
            PromptArena(c, prompts=["plain"])
        with pytest.raises(ValueError, match="duplicate question id"):
            PromptArena(c, questions=[TEST_QUESTIONS[0], TEST_QUESTIONS[0]])


async def test_model_arena_blind_labels(sim_url: str) -> None:
    names = ["sim-short", "sim-mid", "sim-long", "sim-small"]
    async with AsyncExitStack() as stack:
        pairs = [(n, client(stack, sim_url, n)) for n in names]
        judge = client(stack, sim_url, "judge-fair")
        first = ModelArena(pairs, judge=judge, seed=7).labels
        assert first == ModelArena(pairs, judge=judge, seed=7).labels
        assert sorted(first.values()) == [f"Model {i}" for i in range(1, 5)]
        assert set(first) == set(names)
        assert any(blind_labels(names, seed) != first for seed in range(8))
        with pytest.raises(ValueError, match="2 to 6 contestants, got 1"):
            ModelArena(pairs[:1], judge=judge)
        with pytest.raises(ValueError, match="2 to 6 contestants, got 7"):
            ModelArena([(f"m{i}", pairs[0][1]) for i in range(7)], judge=judge)
        with pytest.raises(ValueError, match="unique"):
            ModelArena([pairs[0], pairs[0]], judge=judge)


async def test_model_arena_self_judge_and_failed_answers(sim_url: str) -> None:
    result = await model_arena(sim_url, ["sim-long", "sim-missing", "judge-fair"], "judge-fair")
    assert result.warnings[0].startswith(SELF_JUDGE_WARNING)
    assert "'judge-fair'" in result.warnings[0]
    assert "2 answer(s) failed; 4 matchup(s) involving them were skipped" in result.warnings[1]
    failed = [r for r in result.responses if r.error]
    assert {r.contestant for r in failed} == {"sim-missing"}
    assert all("404" in str(r.error) for r in failed)
    assert len(result.matchups) == 2
    assert all("sim-missing" not in (m.left, m.right) for m in result.matchups)


async def test_model_report_leaderboard(sim_url: str, tmp_path: Path) -> None:
    result = await model_arena(sim_url, ["sim-short", "sim-long"], "judge-fenced", seed=3)
    for row in result.stats:
        assert row.ttft_p50_s is not None
        assert 0 < row.ttft_p50_s < 1
        assert row.decode_tps_p50 is not None
        assert row.decode_tps_p50 > 100
    md_path, json_path = write_arena_report(result, tmp_path / "out", "models")
    assert (md_path.name, json_path.name) == ("arena-models.md", "arena-models.json")
    data = json.loads(json_path.read_text())
    assert data["schema"] == "pytest-llmserver/arena"
    assert data["schema_version"] == 1
    assert data["kind"] == "models"
    assert data["seed"] == 3
    assert data["labels"] == result.labels
    assert len(data["matchups"]) == 2
    assert data["matchups"][0]["position_bias"] is False
    assert data["stats"][0]["contestant"] == "sim-long"
    md = md_path.read_text()
    assert md.startswith("# Model arena: models\n")
    assert "## Leaderboard" in md
    assert "TTFT p50 ms" in md
    assert "decode tok/s p50" in md
    top = f"| 1 | sim-long ({result.labels['sim-long']}) | 100.0% | 2/0/0 | 0 | 10.00 (4) |"
    assert top in md
    assert "## Position-bias ties (0)" in md


async def test_full_prompt_arena_report(sim_url: str, tmp_path: Path) -> None:
    result = await prompt_arena(sim_url, "judge-first")
    assert len(result.responses) == 7 * 12
    assert len(result.matchups) == 21 * 12
    assert {m.outcome for m in result.matchups} == {"tie"}
    md_path, _ = write_arena_report(result, tmp_path, "prompts")
    md = md_path.read_text()
    assert "| 1 | atomic (Atomic sub-questions) | 50.0% | 0/0/72 | 0 | 5.50 (144) |" in md
    assert "## Position-bias ties (252)" in md
    assert "| reason-01 | reasoning | 0-0-6 |" in md


# --- the seed form: PromptArena(server, model) -------------------------------------------------


@pytest.fixture
def sim_thread_url() -> Iterator[str]:
    config = SimConfig(
        models=("sim-small", *JUDGE_MODELS),
        policy=ArenaJudgePolicy(FunctionPolicy(contestant_reply)),
        timing=FAST,
    )
    with SimThread(config) as sim:
        yield sim.url


def test_seed_form_makes_and_closes_its_own_clients(
    sim_thread_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[str] = []
    aclose = ModelClient.aclose

    async def counting_aclose(self: ModelClient) -> None:
        closed.append(self.model)
        await aclose(self)

    monkeypatch.setattr(ModelClient, "aclose", counting_aclose)
    server = ServerRecord(url=sim_thread_url, type="openai")
    arena = PromptArena(
        server,
        "sim-small",
        judge_model="judge-fair",
        timeout_s=30.0,
        prompts=["concise", "plain", "chain_of_thought"],
        questions=TWO_QUESTIONS,
    )
    assert (arena.client, arena.model, arena.judge_model) == (None, "sim-small", "judge-fair")
    for run in (1, 2):  # every run has clients of its own
        result = asyncio.run(arena.run())
        assert sorted(closed) == sorted(["sim-small", "judge-fair"] * run)
    assert result.judge_model == "judge-fair"
    assert result.warnings == []
    assert len(result.responses) == 3 * 2
    assert all(r.error is None for r in result.responses)
    assert [s.contestant for s in result.stats] == ["chain_of_thought", "plain", "concise"]
    assert result.stats[0].wins == 4


def test_seed_form_with_a_plain_dict_judges_itself(sim_thread_url: str) -> None:
    arena = PromptArena(
        {"url": sim_thread_url, "type": "openai"},
        "sim-small",
        prompts=["plain", "concise"],
        questions=TEST_QUESTIONS[:1],
    )
    assert arena.server == ServerRecord(url=sim_thread_url, type="openai")
    result = asyncio.run(arena.run())
    assert result.warnings == [SELF_JUDGE_WARNING]
    assert result.judge_model == "sim-small"
    assert [m.outcome for m in result.matchups] == ["unparseable"]  # filler words, no JSON


async def test_seed_form_argument_errors(sim_url: str) -> None:
    server = {"url": sim_url, "type": "openai"}
    async with ModelClient(server, "sim-small") as c:
        with pytest.raises(TypeError, match="takes no model, timeout_s"):
            PromptArena(c, "sim-small", timeout_s=5.0)
        with pytest.raises(TypeError, match="judge_model"):
            PromptArena(server, "sim-small", judge=c, judge_model="judge-fair")
        assert PromptArena(server, "sim-small", judge=c).judge_model == "sim-small"
    with pytest.raises(TypeError, match="needs the model name"):
        PromptArena(server)
    with pytest.raises(TypeError, match="not int"):
        PromptArena(42, "sim-small")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="unknown arena option"):
        PromptArena(server, "sim-small", seeds=3)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="concurrency"):
        PromptArena(server, "sim-small", concurrency=0)
