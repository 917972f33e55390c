"""The server's own metrics during a stress run: discover ``/metrics`` (or Ollama's
``/api/ps``), scrape it on an interval on a background thread, keep the series next to the
records, and summarise it against the client's figures.

The names in ``__all__`` are this package's contract; other packages import only these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_llmserver._lazy import lazy_face

if TYPE_CHECKING:
    from pytest_llmserver.servermetrics.families import family_of
    from pytest_llmserver.servermetrics.prom import MetricsError, Scrape, parse_prometheus
    from pytest_llmserver.servermetrics.report import ServerReport, server_report
    from pytest_llmserver.servermetrics.scraper import Scraper, open_scraper
    from pytest_llmserver.servermetrics.series import Series, read_series, series_path
    from pytest_llmserver.servermetrics.summary import (
        bucket_quantile,
        gauge_points,
        reset_aware_delta,
    )
    from pytest_llmserver.servermetrics.targets import parse_scrape_targets

__all__ = [
    "MetricsError",
    "Scrape",
    "Scraper",
    "Series",
    "ServerReport",
    "bucket_quantile",
    "family_of",
    "gauge_points",
    "open_scraper",
    "parse_prometheus",
    "parse_scrape_targets",
    "read_series",
    "reset_aware_delta",
    "series_path",
    "server_report",
]

if not TYPE_CHECKING:
    __getattr__, __dir__ = lazy_face(
        __name__,
        {
            "families": "family_of",
            "prom": "MetricsError Scrape parse_prometheus",
            "report": "ServerReport server_report",
            "scraper": "Scraper open_scraper",
            "targets": "parse_scrape_targets",
            "series": "Series read_series series_path",
            "summary": "bucket_quantile gauge_points reset_aware_delta",
        },
    )
