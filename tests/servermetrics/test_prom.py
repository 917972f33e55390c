"""Parsing Prometheus text (captured from llama.cpp and in vLLM's shape), telling families
apart, bucket percentiles, counter resets and the option's vocabulary."""

from __future__ import annotations

import pytest

from pytest_llmserver.servermetrics import (
    MetricsError,
    bucket_quantile,
    family_of,
    parse_prometheus,
    parse_scrape_targets,
    reset_aware_delta,
)
from tests.servermetrics.fake import llamacpp_text, vllm_text

# Captured from llama.cpp (xllamacpp, --metrics) after three requests (some lines left out).
CAPTURED_LLAMACPP = """\
# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed, excluding cached tokens
# TYPE llamacpp:prompt_tokens_total counter
llamacpp:prompt_tokens_total 21
# HELP llamacpp:prompt_tokens_cached_total Number of prompt tokens reused from the cache
# TYPE llamacpp:prompt_tokens_cached_total counter
llamacpp:prompt_tokens_cached_total 12
# TYPE llamacpp:tokens_predicted_total counter
llamacpp:tokens_predicted_total 51
# TYPE llamacpp:n_tokens_max counter
llamacpp:n_tokens_max 30
# TYPE llamacpp:prompt_tokens_seconds gauge
llamacpp:prompt_tokens_seconds 28.2742
# TYPE llamacpp:requests_processing gauge
llamacpp:requests_processing 0
# TYPE llamacpp:requests_deferred gauge
llamacpp:requests_deferred 0
"""


def test_llamacpp_text_parses_into_its_family() -> None:
    scrape = parse_prometheus(CAPTURED_LLAMACPP, "http://127.0.0.1:1/metrics")
    assert scrape.values["llamacpp:tokens_predicted_total"] == 51
    assert scrape.values["llamacpp:prompt_tokens_cached_total"] == 12
    assert scrape.values["llamacpp:requests_deferred"] == 0
    assert scrape.buckets == {}
    assert family_of(scrape.values).name == "llamacpp"


def test_vllm_text_sums_label_sets_and_keeps_buckets_by_bound() -> None:
    text = vllm_text(3) + 'vllm:num_requests_running{model_name="other"} 5\n'
    scrape = parse_prometheus(text, "u")
    assert scrape.values["vllm:num_requests_running"] == 0 + 5  # 3 % 3, plus the other model
    assert scrape.values["vllm:generation_tokens_total"] == 150
    assert scrape.buckets["vllm:time_to_first_token_seconds"] == {
        "0.1": 3.0,
        "0.5": 6.0,
        "+Inf": 6.0,
    }
    assert family_of([*scrape.values, *scrape.buckets]).name == "vllm"
    assert family_of(parse_prometheus(llamacpp_text(1), "u").values).name == "llamacpp"


def test_families_by_prefix_and_generic_otherwise() -> None:
    assert family_of(["sglang:num_running_reqs", "process_cpu_seconds_total"]).name == "sglang"
    assert family_of(["tgi_queue_size", "tgi_batch_current_size"]).name == "tgi"
    assert family_of(["process_cpu_seconds_total"]).name == "generic"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("<html><body>Welcome</body></html>", "invalid metric name"),
        ('{"object": "list"}', "Invalid labels"),
        ("", "no metric samples in ''"),
        ("# only a comment\n", "no metric samples"),
    ],
)
def test_a_body_that_is_not_prometheus_text_is_one_line(body: str, reason: str) -> None:
    with pytest.raises(MetricsError) as caught:
        parse_prometheus(body, "http://127.0.0.1:9/metrics")
    message = str(caught.value)
    assert message.startswith("http://127.0.0.1:9/metrics is not Prometheus text: ")
    assert reason in message
    assert "\n" not in message


def test_bucket_percentiles_interpolate_inside_the_bucket() -> None:
    buckets = {"0.1": 10.0, "0.5": 30.0, "+Inf": 40.0}
    assert bucket_quantile(buckets, 0.5) == pytest.approx(0.1 + 0.4 * 10 / 20)
    assert bucket_quantile(buckets, 0.2) == pytest.approx(0.08)  # from 0 in the first bucket
    assert bucket_quantile(buckets, 0.99) == 0.5  # in +Inf: the highest finite bound
    assert bucket_quantile({"0.1": 0.0, "+Inf": 0.0}, 0.5) is None
    assert bucket_quantile({}, 0.5) is None


def test_bounds_spelled_differently_are_one_bucket() -> None:
    text = (
        "# TYPE h histogram\n"
        'h_bucket{le="1",a="x"} 2\nh_bucket{le="1.0",a="y"} 3\nh_bucket{le="+Inf",a="x"} 4\n'
        'h_bucket{le="+Inf",a="y"} 5\nh_count{a="x"} 4\nh_count{a="y"} 5\n'
    )
    assert parse_prometheus(text, "u").buckets["h"] == {"1.0": 5.0, "+Inf": 9.0}


def test_a_counter_that_resets_counts_from_zero() -> None:
    assert reset_aware_delta([10.0, 20.0, 5.0, 8.0]) == (18.0, 1)
    assert reset_aware_delta([3.0, 3.0]) == (0.0, 0)
    assert reset_aware_delta([7.0]) == (0.0, 0)


@pytest.mark.parametrize(
    ("raw", "targets"),
    [
        ("auto", ("auto",)),
        ("OFF", ("off",)),
        ("http://h:8000/metrics", ("auto", "http://h:8000/metrics")),
        (" http://a/m , auto,http://a/m", ("auto", "http://a/m")),
    ],
)
def test_option_vocabulary(raw: str, targets: tuple[str, ...]) -> None:
    assert parse_scrape_targets(raw) == targets


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        ("", "empty (pass auto, off or URL[,URL...])"),
        ("off,http://a/m", "'off,http://a/m': off cannot be combined with URLs"),
        ("h:8000/metrics", "'h:8000/metrics' is not auto, off or an http(s) URL"),
    ],
)
def test_option_errors(raw: str, error: str) -> None:
    with pytest.raises(ValueError, match="^" + __import__("re").escape(error) + "$"):
        parse_scrape_targets(raw)
