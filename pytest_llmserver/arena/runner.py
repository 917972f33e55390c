"""The prompt arena and the model arena: who competes, who judges, and which clients they use."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pytest_llmserver.arena.engine import ArenaOptions, Contestant, Engine, RunOptions, same_model
from pytest_llmserver.arena.prompts import SYSTEM_PROMPTS
from pytest_llmserver.arena.results import SELF_JUDGE_WARNING, ArenaResult
from pytest_llmserver.client import ModelClient, ServerRecord, Timeouts

if TYPE_CHECKING:
    from typing_extensions import Unpack

MIN_MODELS = 2
MAX_MODELS = 6


def _check_prompts(prompts: Sequence[str] | None) -> list[str]:
    keys = list(SYSTEM_PROMPTS) if prompts is None else list(prompts)
    unknown = [k for k in keys if k not in SYSTEM_PROMPTS]
    if unknown:
        raise ValueError(
            f"unknown system prompt(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(SYSTEM_PROMPTS)}"
        )
    if len(set(keys)) != len(keys):
        raise ValueError(f"system prompts listed twice: {keys}")
    if len(keys) < 2:
        raise ValueError("the prompt arena needs at least two system prompts")
    return keys


@dataclass(frozen=True)
class _OwnClients:
    """How the seed form makes its clients: new ones for each run, closed when the run ends."""

    server: ServerRecord
    model: str
    judge_model: str
    judge: ModelClient | None
    api_key: str | None
    timeouts: Timeouts
    concurrency: int

    def open(self, stack: AsyncExitStack) -> tuple[ModelClient, ModelClient]:
        """(contestant client, judge client); one client when the model judges itself."""
        client = self._client(stack, self.model, None)
        if self.judge is not None:
            return client, self.judge
        if self.judge_model == self.model:
            return client, client
        return client, self._client(stack, self.judge_model, 0.0)

    def _client(self, stack: AsyncExitStack, model: str, temperature: float | None) -> ModelClient:
        made = ModelClient(
            self.server,
            model,
            api_key=self.api_key,
            timeouts=self.timeouts,
            concurrency=self.concurrency,
            temperature=temperature,
        )
        stack.push_async_callback(made.aclose)
        return made


class PromptArena:
    """System prompts compete on one model; a judge compares their answers pair by pair.

    Two forms:

    - ``PromptArena(client, judge=judge_client)``: ready :class:`ModelClient` objects that the
      caller owns and closes. Without ``judge`` the model judges itself.
    - ``PromptArena(server, model, judge_model=None, api_key=None, timeout_s=None)``: a
      ``ServerRecord`` (or a mapping with ``url`` and ``type``) and a model name, as in the
      seed API. Each :meth:`run` makes its own clients and closes them when it ends; the judge
      answers at temperature 0. ``judge_model`` defaults to ``model`` itself (the result then
      carries :data:`SELF_JUDGE_WARNING`); ``timeout_s`` is the deadline of one request.

    ``prompts`` names built-in :data:`SYSTEM_PROMPTS` (default: all); the other keyword options
    are :class:`ArenaOptions`.
    """

    def __init__(
        self,
        target: ModelClient | ServerRecord | Mapping[str, Any],
        model: str | None = None,
        *,
        judge: ModelClient | None = None,
        judge_model: str | None = None,
        api_key: str | None = None,
        timeout_s: float | None = None,
        prompts: Sequence[str] | None = None,
        **options: Unpack[ArenaOptions],
    ) -> None:
        self.prompts = _check_prompts(prompts)
        self.options = RunOptions.checked(options)
        self.questions = self.options.questions
        self._clients: tuple[ModelClient, ModelClient] | _OwnClients
        if isinstance(target, ModelClient):
            seed_form = {"model": model, "judge_model": judge_model, "api_key": api_key}
            given = [k for k, v in {**seed_form, "timeout_s": timeout_s}.items() if v is not None]
            if given:
                raise TypeError(
                    f"PromptArena(client, ...) takes no {', '.join(given)}: "
                    "those go with the form PromptArena(server, model, ...)"
                )
            #: The clients given in the first form; None in the seed form.
            judge_client = judge if judge is not None else target
            self.client: ModelClient | None = target
            self.judge: ModelClient | None = judge_client
            self.server, self.model = target.server, target.model
            self.judge_model = judge_client.model
            self._clients = (target, judge_client)
            return
        if not isinstance(target, (ServerRecord, Mapping)):
            raise TypeError(
                "PromptArena takes a ModelClient, or a server record (or mapping) and a model "
                f"name, not {type(target).__name__}"
            )
        if not isinstance(model, str) or not model:
            raise TypeError("PromptArena(server, model) needs the model name as a string")
        if judge is not None and judge_model is not None:
            raise TypeError("give the judge as a client (judge=) or by name (judge_model=)")
        self.client, self.judge = None, judge
        self.server, self.model = ServerRecord.coerce(target), model
        self.judge_model = judge.model if judge is not None else judge_model or model
        self._clients = _OwnClients(
            server=self.server,
            model=model,
            judge_model=self.judge_model,
            judge=judge,
            api_key=api_key,
            timeouts=Timeouts() if timeout_s is None else Timeouts.from_total(timeout_s),
            concurrency=self.options.concurrency,
        )

    async def run(self) -> ArenaResult:
        """Answer every question with every prompt, then judge every pair in both orders."""
        async with AsyncExitStack() as stack:
            clients = self._clients
            client, judge = clients.open(stack) if isinstance(clients, _OwnClients) else clients
            warnings = [SELF_JUDGE_WARNING] if same_model(judge, client) else []
            contestants = [
                Contestant(key, client, SYSTEM_PROMPTS[key]["prompt"]) for key in self.prompts
            ]
            return await Engine(
                kind="prompts",
                contestants=contestants,
                judge=judge,
                options=self.options,
                labels={},
                warnings=warnings,
            ).run()


def blind_labels(names: Sequence[str], seed: int) -> dict[str, str]:
    """``{name: "Model k"}`` with the names shuffled by ``random.Random(seed)``."""
    order = list(names)
    random.Random(seed).shuffle(order)
    return {name: f"Model {i}" for i, name in enumerate(order, 1)}


class ModelArena:
    """Models compete on the same questions; the judge sees only "Answer A" and "Answer B".

    ``contestants`` are ``(name, client)`` pairs; the keyword options are :class:`ArenaOptions`.
    """

    def __init__(
        self,
        contestants: Sequence[tuple[str, ModelClient]],
        *,
        judge: ModelClient,
        **options: Unpack[ArenaOptions],
    ) -> None:
        entries = list(contestants)
        if not MIN_MODELS <= len(entries) <= MAX_MODELS:
            raise ValueError(
                f"the model arena takes {MIN_MODELS} to {MAX_MODELS} contestants, "
                f"got {len(entries)}"
            )
        names = [name for name, _ in entries]
        if len(set(names)) != len(names):
            raise ValueError(f"contestant names must be unique: {names}")
        self.contestants = entries
        self.judge = judge
        self.options = RunOptions.checked(options)
        self.questions = self.options.questions
        self.labels = blind_labels(names, self.options.seed)

    async def run(self) -> ArenaResult:
        """Answer every question with every model, then judge every pair in both orders."""
        warnings = [
            f"{SELF_JUDGE_WARNING} (judge {self.judge.model} is contestant {name!r})"
            for name, client in self.contestants
            if same_model(self.judge, client)
        ]
        contestants = [
            Contestant(name, client, client.system_prompt) for name, client in self.contestants
        ]
        return await Engine(
            kind="models",
            contestants=contestants,
            judge=self.judge,
            options=self.options,
            labels=self.labels,
            warnings=warnings,
        ).run()
