"""The options of the plugin, each named once, and the parsers of their values."""

from pytest_llmserver.options.parsers import ServerSpec, SettingsError, parse_server_spec
from pytest_llmserver.options.spec import ApiChoice, OptionSpec
from pytest_llmserver.options.specs import OPTIONS

__all__ = [
    "OPTIONS",
    "ApiChoice",
    "OptionSpec",
    "ServerSpec",
    "SettingsError",
    "parse_server_spec",
]
