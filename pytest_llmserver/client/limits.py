"""Every bound the client puts on what a server sends, in one place.

Sizes cap memory and CPU per request, whatever a server offers; ranges say which server
figures are physical. A reply beyond a size cap is an ``LLMProtocolError`` that names the cap;
a figure outside its range is kept out of the metrics and its name goes into
``ChatMetrics.suspect``.
"""

from __future__ import annotations

KIB = 1024
MIB = 1024 * KIB

# Sizes -------------------------------------------------------------------------------------

MAX_ERROR_BODY_BYTES = 64 * KIB
"""Bytes of a non-2xx reply's body read for its message; the rest is never read."""

MAX_LINE_BYTES = 16 * MIB
"""One SSE line or event, or one NDJSON line, assembled (in linear time) from its chunks."""

MAX_WHOLE_REPLY_BYTES = 16 * MIB
"""A non-streamed reply (one JSON object)."""

MAX_RESPONSE_BYTES = 256 * MIB
"""Decoded bytes of one streamed reply (after any gzip/deflate): a compression bomb stops here."""

MAX_INFLATE_PIECE_BYTES = 1 * MIB
"""Decompressed bytes produced per step, so one small compressed chunk cannot expand at once."""

MAX_NESTING_DEPTH = 64
"""JSON nesting (objects and arrays) of one event or reply; replies use 3 to 6 levels."""

MAX_TOOL_CALLS = 128
"""Tool calls in one reply."""

MAX_TOOL_CALL_CHARS = 1 * MIB
"""Characters of one tool call's name and arguments."""

MAX_MESSAGE_CHARS = 300
"""Characters of server text (an error message, an excerpt) quoted in an error message."""

# Physical ranges of server-reported figures (outside: suspect, value dropped) ------------------

MAX_TOKEN_COUNT = 100_000_000
"""Token counts (prompt, completion, cached, reasoning) lie in 0..MAX_TOKEN_COUNT."""

MAX_DURATION_S = 86_400.0
"""Durations (prefill, decode) lie in 0..one day."""

MAX_RATE_TPS = 10_000_000.0
"""Rates (prefill, decode tokens per second) lie in 0..MAX_RATE_TPS."""

MAX_ENDPOINT_BYTES = 4 * MIB
"""A small JSON endpoint's body (model lists, versions, properties) read by ``fetch_json``."""
