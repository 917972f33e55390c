"""Keep-alive without double sends: when a request may be sent again, and which servers get
a fresh connection for every request.

A request that fails on a reused keep-alive connection before any response byte arrived was
either never read by the server (it had closed the idle connection while the request was on
its way) or read and dropped (a server that fails, or a hostile one). Only the first may be
sent again. The proof is a *reset*: a server's kernel answers bytes that its application never
read with RST, while a server that read the whole request and then closed sends a plain FIN.
So the retry rule is

    reused connection, no response byte, and the connection was reset
    (ECONNRESET/EPIPE on the read, or a reset queued right behind the server's FIN)

A clean close after the request went out is never retried. The reset behind a FIN is only
visible on the socket, so the client's own transport (``_wire``) looks at the socket when it
reads end-of-file, and reports to the evidence of the attempt that owns the connection.

Some servers close a connection after every streamed reply without saying so (llama.cpp
announces ``Keep-Alive`` and closes); a request sent on it in the moment before the close is
taken off the socket and dropped, with a plain FIN: a client cannot tell that from a server
that read the request on purpose, so it must not resend it. Instead such servers get
``Connection: close`` on every request (``ConnectionPolicy``): known ones by kind
(``CLOSES_AFTER_STREAMS``), any other from its first clean close on a reused connection.
No request of theirs ever meets a closing connection.
"""

from __future__ import annotations

import errno
import socket
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

_RESET_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED})

CLOSES_AFTER_STREAMS = frozenset({"llamacpp"})
"""Server kinds known to close a connection after every streamed reply without saying so."""


@dataclass
class ConnectionPolicy:
    """Whether a client's requests go out with ``Connection: close`` (see the module text)."""

    close_each: bool = False

    @classmethod
    def for_kind(cls, kind: str) -> ConnectionPolicy:
        return cls(close_each=kind in CLOSES_AFTER_STREAMS)


@dataclass
class AttemptEvidence:
    """What the connection saw during one send attempt."""

    received_bytes: int = 0
    reset: bool = False


_ATTEMPT: ContextVar[AttemptEvidence | None] = ContextVar("llm_attempt", default=None)


def watch_attempt() -> AttemptEvidence:
    """Start collecting evidence for the attempt about to be sent from this task."""
    evidence = AttemptEvidence()
    _ATTEMPT.set(evidence)
    return evidence


def was_reset(exc: BaseException | None, evidence: AttemptEvidence) -> bool:
    """Whether the failure shows a reset (in the exception chain, or seen on the socket)."""
    if evidence.reset:
        return True
    seen = 0
    while exc is not None and seen < 16:
        if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
            return True
        if isinstance(exc, OSError) and exc.errno in _RESET_ERRNOS:
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def current_attempt() -> AttemptEvidence | None:
    """The evidence of the attempt this task is sending, if it watches one."""
    return _ATTEMPT.get()


def socket_reset(sock: Any) -> bool:
    """Whether a reset is queued on ``sock`` (read at end-of-file, behind the server's FIN)."""
    if sock is None:
        return False
    try:
        return int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)) in _RESET_ERRNOS
    except (OSError, ValueError):
        return False
