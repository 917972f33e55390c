"""The paths a simulated server answers: listings, chat, and the persona's own routes."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from pytest_llmserver.sim import ollama_api, openai_api
from pytest_llmserver.sim.capacity import Capacity
from pytest_llmserver.sim.chat import Chat
from pytest_llmserver.sim.config import SimConfig
from pytest_llmserver.sim.errors import ApiError
from pytest_llmserver.sim.exchange import Exchange, Handler, parse_body
from pytest_llmserver.sim.exposition import CONTENT_TYPE, exposition
from pytest_llmserver.sim.metrics import ServerMetrics
from pytest_llmserver.sim.persona import OWNERS, extra_routes, model_extra, speaks_ollama


def _fixed_json(body: Any) -> Handler:
    """A handler that always answers 200 with ``body``."""

    async def handler(exchange: Exchange) -> None:
        await exchange.response.send_json(200, body)

    return handler


class Routes:
    """``{path: (method, handler)}`` of one configuration, by its persona."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self._created_s = int(time.time())
        self._modified = datetime.now(timezone.utc)
        self.capacity = Capacity(config.slots)
        # series of the first model from the start, of the others once they are asked for
        self.metrics = ServerMetrics(config.kv_cache_tokens, config.models[:1])
        chat = Chat(config, self.capacity, self.metrics)
        self._table: dict[str, tuple[str, Handler]] = {
            "/v1/models": ("GET", self._openai_models),
            "/v1/chat/completions": ("POST", chat.openai),
        }
        persona = config.persona
        if speaks_ollama(persona):
            self._table |= {
                "/api/version": ("GET", self._ollama_version),
                "/api/tags": ("GET", self._ollama_tags),
                "/api/show": ("POST", self._ollama_show),
                "/api/chat": ("POST", chat.ollama),
            }
        for path, body in extra_routes(persona, config.models, config.reported_slots).items():
            self._table[path] = ("GET", _fixed_json(body))
        if config.metrics_flavour != "off":
            self._table["/metrics"] = ("GET", self._metrics)

    def handler(self, method: str, path: str) -> Handler:
        """The handler of ``method path``; 404 for an unknown path, 405 for another method."""
        route = self._table.get(path)
        if route is None:
            raise ApiError(404, f"unknown path {path}", "not_found_error")
        allowed, handler = route
        if method != allowed:
            raise ApiError(405, f"method {method} not allowed on {path}")
        return handler

    async def _openai_models(self, exchange: Exchange) -> None:
        await exchange.response.send_json(
            200,
            openai_api.models_body(
                self.config.models,
                self._created_s,
                OWNERS[self.config.persona],
                model_extra(self.config.persona),
            ),
        )

    async def _metrics(self, exchange: Exchange) -> None:
        text = exposition(self.metrics, self.config.metrics_flavour)
        await exchange.response.send(200, CONTENT_TYPE, text.encode())

    async def _ollama_version(self, exchange: Exchange) -> None:
        await exchange.response.send_json(200, {"version": ollama_api.VERSION})

    async def _ollama_tags(self, exchange: Exchange) -> None:
        await exchange.response.send_json(
            200, ollama_api.tags_body(self.config.models, self._modified)
        )

    async def _ollama_show(self, exchange: Exchange) -> None:
        body = parse_body(exchange.request)
        model = body.get("model", body.get("name"))
        if not isinstance(model, str) or not model:
            raise ApiError(400, "model is required")
        if model not in self.config.models:
            raise ApiError(404, f"model '{model}' not found")
        await exchange.response.send_json(200, ollama_api.show_body(model, self._modified))
