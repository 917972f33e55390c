"""The arena report: ``arena-<name>.md`` for people and ``arena-<name>.json`` with every verdict."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_llmserver._util import Redactor, md_cell, md_table
from pytest_llmserver.arena.prompts import SYSTEM_PROMPTS
from pytest_llmserver.arena.results import ArenaResult, ArenaStats, JudgeResult

JSON_SCHEMA = "pytest-llmserver/arena"
JSON_SCHEMA_VERSION = 1
RAW_EXCERPT_CHARS = 160


def _number(value: float | None, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def display_name(result: ArenaResult, contestant: str) -> str:
    """How a contestant is shown: a model with its blind label, a prompt with its name."""
    if result.kind == "models":
        label = result.labels.get(contestant)
        return f"{contestant} ({label})" if label else contestant
    prompt = SYSTEM_PROMPTS.get(contestant)
    return f"{contestant} ({prompt['name']})" if prompt else contestant


LEADERBOARD_HEADER = (
    "rank",
    "contestant",
    "win rate",
    "W/L/T",
    "unparseable",
    "mean score (n)",
    "TTFT p50 ms",
    "decode tok/s p50",
)


def _leaderboard_row(result: ArenaResult, rank: int, row: ArenaStats) -> list[object]:
    rate = "n/a" if row.win_rate is None else f"{row.win_rate:.1%}"
    score = "n/a" if row.mean_score is None else f"{row.mean_score:.2f}"
    ttft = None if row.ttft_p50_s is None else row.ttft_p50_s * 1e3
    return [
        rank,
        display_name(result, row.contestant),
        rate,
        f"{row.wins}/{row.losses}/{row.ties}",
        row.unparseable,
        f"{score} ({row.score_n})",
        _number(ttft, ".1f"),
        _number(row.decode_tps_p50, ".1f"),
    ]


def _counts(counts: dict[str, int] | None) -> str:
    if counts is None:
        return "-"
    text = f"{counts['wins']}-{counts['losses']}-{counts['ties']}"
    if counts["unparseable"]:
        text += f" ({counts['unparseable']}?)"
    return text


def _per_question(result: ArenaResult) -> list[str]:
    names = list(result.contestants)
    by_name = {s.contestant: s for s in result.stats}
    rows = [
        [
            str(question["id"]),
            str(question.get("category", "")),
            *(_counts(by_name[n].per_question.get(str(question["id"]))) for n in names),
        ]
        for question in result.questions
    ]
    return md_table(["question", "category", *names], rows, ["---", "---", *["---:"] * len(names)])


def _order(verdict: JudgeResult) -> str:
    return f"A={verdict.first}, B={verdict.second}"


def render_markdown(result: ArenaResult, name: str) -> str:
    """The report as markdown: leaderboard, per-question W-L-T, position bias, unparseable."""
    title = "Prompt arena" if result.kind == "prompts" else "Model arena"
    lines = [
        f"# {title}: {name}",
        "",
        f"Judge `{result.judge_model}` · seed {result.seed} · {len(result.contestants)} "
        f"contestants · {len(result.questions)} questions · {len(result.matchups)} matchups, "
        f"each judged in both orders · wall time {result.wall_s:.2f} s",
        "",
        "A contestant wins a matchup only when the judge picks it in both orders; a verdict "
        "that follows the position is a tie; a verdict that cannot be parsed is never guessed.",
    ]
    if result.warnings:
        lines += ["", "## Warnings", ""]
        lines += [f"- {md_cell(w)}" for w in result.warnings]
    lines += ["", "## Leaderboard", ""]
    rows = [_leaderboard_row(result, i, row) for i, row in enumerate(result.stats, 1)]
    lines += md_table(LEADERBOARD_HEADER, rows, ["---:", "---", "---:", "---", *["---:"] * 4])
    lines += ["", "## Per question (wins-losses-ties, (n?) unparseable)", ""]
    lines += _per_question(result)
    biased = [m for m in result.matchups if m.position_bias]
    lines += ["", f"## Position-bias ties ({len(biased)})", ""]
    if biased:
        for matchup in biased:
            said = "/".join(str(v.winner) for v in matchup.verdicts)
            lines.append(
                f"- {matchup.question_id}: {md_cell(matchup.left)} vs {md_cell(matchup.right)}: "
                f"the judge said {said} in the two orders"
            )
    else:
        lines.append("None.")
    failed = [v for m in result.matchups for v in m.verdicts if not v.parsed]
    lines += ["", f"## Unparseable or failed verdicts ({len(failed)})", ""]
    if failed:
        for verdict in failed:
            # a code span cannot escape a backtick, so the excerpt shows none
            excerpt = md_cell(verdict.raw.strip()[:RAW_EXCERPT_CHARS].replace("`", "'"))
            lines.append(
                f"- {verdict.question_id} ({md_cell(_order(verdict))}): "
                f"{md_cell(verdict.error or 'no verdict')}; raw: `{excerpt}`"
            )
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


def write_arena_report(
    result: ArenaResult, directory: Path, name: str, *, redactor: Redactor | None = None
) -> tuple[Path, Path]:
    """Write ``arena-<name>.md`` and ``arena-<name>.json`` into ``directory``; return both.
    With a ``redactor``, both are redacted (e.g. an API key a server echoed into an error)."""
    directory.mkdir(parents=True, exist_ok=True)
    md_path = directory / f"arena-{name}.md"
    json_path = directory / f"arena-{name}.json"
    text = render_markdown(result, name)
    payload = {"schema": JSON_SCHEMA, "schema_version": JSON_SCHEMA_VERSION, **result.to_dict()}
    if redactor is not None:
        text, payload = redactor.text(text), redactor.scrub(payload)
    md_path.write_text(text, encoding="utf-8")
    json_path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return md_path, json_path
