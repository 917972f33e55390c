"""What ``--llm-server-metrics`` accepts: ``auto``, ``off`` or extra URLs (light: parsed at
start-up)."""

from __future__ import annotations

from urllib.parse import urlsplit

AUTO, OFF = "auto", "off"


def parse_scrape_targets(raw: str) -> tuple[str, ...]:
    """``auto``, ``off`` or ``URL[,URL...]`` (each URL scraped besides the target's own
    discovery, ``auto`` implied); raise ``ValueError`` with the accepted form."""
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    if not parts:
        raise ValueError("empty (pass auto, off or URL[,URL...])")
    lowered = [part.lower() for part in parts]
    if OFF in lowered:
        if len(parts) > 1:
            raise ValueError(f"{raw.strip()!r}: off cannot be combined with URLs")
        return (OFF,)
    urls: list[str] = []
    for part in parts:
        split = urlsplit(part)
        if part.lower() != AUTO and (split.scheme not in ("http", "https") or not split.hostname):
            raise ValueError(f"{part!r} is not auto, off or an http(s) URL")
        urls.append(part)
    return tuple(dict.fromkeys([AUTO, *(u for u in urls if u.lower() != AUTO)]))
