"""The one redaction policy: secret values, secret-looking tokens, URL passwords and
secret-named fields never reach a file or the terminal."""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

REDACTED = "[redacted]"

# Bearer tokens, key=value / "key": "value" pairs of secret-looking names, sk- style keys.
_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(
        r"(?i)([\"']?(?:api[_-]?key|token|secret|password|authorization)[\"']?\s*[:=]\s*[\"']?)"
        r"(?!\[redacted\])[^\s\"',;)}\]]+"
    ),
    re.compile(r"\b(sk-)[A-Za-z0-9_-]{8,}"),
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s/:@]*:)[^\s/@]+(?=@)"),
)
_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_SECRET_WORDS = frozenset(
    {"token", "secret", "password", "passwd", "pwd", "authorization", "auth", "apikey"}
    | {"credential", "credentials", "cookie", "bearer"}
)
_SECRET_PAIRS = frozenset({("api", "key"), ("private", "key"), ("access", "key")})
_SECRET_JOINED = ("apikey", "password", "secret", "authorization")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with the given secret values, secret-looking tokens and URL passwords
    replaced by ``[redacted]``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
    return text


def redact_url(url: str) -> str:
    """``url`` with any password in its user part replaced by ``[redacted]``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:{REDACTED}@{host}"))


def is_secret_key(key: object) -> bool:
    """True for a field name that holds a secret (``api_key``, ``Authorization``, ...)."""
    words = [w.lower() for w in _WORDS.findall(str(key))]
    if any(w in _SECRET_WORDS for w in words):
        return True
    if any(pair in _SECRET_PAIRS for pair in itertools.pairwise(words)):
        return True
    joined = "".join(words)
    return any(part in joined for part in _SECRET_JOINED)


def without_secrets(value: Any) -> Any:
    """``value`` with every secret-named mapping key dropped, at any depth."""
    if isinstance(value, Mapping):
        return {k: without_secrets(v) for k, v in value.items() if not is_secret_key(k)}
    if isinstance(value, (list, tuple)):
        return [without_secrets(v) for v in value]
    return value


def _user_info_forms(url: str | None) -> list[str]:
    """Every form in which a URL's password may be seen again: as written, percent-decoded,
    and inside the ``Basic`` credentials (base64 of ``user:password``) sent for it."""
    try:
        parts = urlsplit(url) if url else None
    except ValueError:
        return []
    if parts is None or not parts.password:
        return []
    user, password = unquote(parts.username or ""), unquote(parts.password)
    basic = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return [parts.password, password, basic]


class Redactor:
    """The one policy with a run's own secrets: the API key and every password in a server
    URL's user part (also percent-decoded and as the ``Basic`` credentials sent for it), plus
    the secret-looking tokens ``redact`` knows.

    ``text(s)`` redacts a string; ``scrub(value)`` redacts every string inside JSON-ready
    data (dicts, lists, tuples), keys included.
    """

    __slots__ = ("secrets",)

    def __init__(self, secrets: Iterable[str | None] = (), urls: Iterable[str | None] = ()):
        found = [s for s in secrets if s]
        for url in urls:
            found += _user_info_forms(url)
        # Longest first, so a secret that contains another is replaced whole.
        self.secrets: tuple[str, ...] = tuple(sorted(set(found), key=len, reverse=True))

    def text(self, text: str) -> str:
        """``text`` with every secret, token and URL password replaced."""
        return redact(text, self.secrets)

    def scrub(self, value: Any) -> Any:
        """A copy of ``value`` with every string in it redacted."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.scrub(k): self.scrub(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.scrub(v) for v in value]
        return value
