"""The error a request is answered with, in the style of the API it was sent to."""

from __future__ import annotations

from typing import Any, Literal

from pytest_llmserver.sim.openai_api import error_body

Api = Literal["openai", "ollama"]


class ApiError(Exception):
    """A request the server answers with an error status."""

    def __init__(
        self,
        status: int,
        message: str,
        error_type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.param = param
        self.code = code

    def body(self, api: Api) -> dict[str, Any]:
        """The error body in the style of ``api``."""
        if api == "ollama":
            return {"error": self.message}
        return error_body(self.message, self.error_type, self.param, self.code)


def api_of(path: str) -> Api:
    """The API a request path belongs to: ``/api/...`` is Ollama's, the rest OpenAI's."""
    return "ollama" if path.startswith("/api/") else "openai"
