"""Text as a grader reads it: Unicode-normalised prose and the quantities written in it
(numbers with their currency or unit, written precision and approximation marks)."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

_GROUPED_SPACES = re.compile(r"(?<=\d)[\u00a0\u202f\u2009\u2007](?=\d{3}(?!\d))")
_TRANSLATE = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u00b4": "'",
        "\u0060": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u00ad": "",
        "\u200b": "",
    }
)


def normalise_text(text: str) -> str:
    """NFKC, straight quotes, ASCII dashes and minus, plain spaces (digit groups joined)."""
    text = _GROUPED_SPACES.sub("", text)
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    return re.sub(r"[^\S\n]+", " ", text)


def plain_text(text: str) -> str:
    """``normalise_text``, lower-cased and without accents ("Tōkyō" reads "tokyo")."""
    decomposed = unicodedata.normalize("NFKD", normalise_text(text).lower())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFKC", stripped)


@dataclass(frozen=True)
class Quantity:
    """A number as written: its value, the unit or currency next to it (canonical code, or
    None), half a unit of its last written digit, its significant figures and whether the
    writer marked it as approximate ("about 8 km")."""

    value: float
    unit: str | None
    half_unit: float
    figures: int
    approx: bool
    enumerator: bool = False
    """Written as a list marker, "(2)", not as a figure."""


_NUMBER = re.compile(
    r"(?<![\w.,])(?P<minus>-)?(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d+)|,(?P<dec>\d{1,2}))?"
    r"(?![\d]|[.,]\d)"
)
_SCALES = {
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "mn": 1e6,
    "million": 1e6,
    "millions": 1e6,
    "bn": 1e9,
    "billion": 1e9,
}
_SCALE_AFTER = re.compile(r"\s?(k|m|mn|bn|thousand|millions?|billion)\b", re.I)
_UNITS_AFTER: tuple[tuple[str, str], ...] = (
    (r"us\s?dollars?|usd|dollars?|bucks", "USD"),
    (r"eur|euros?", "EUR"),
    (r"gbp|pounds?(?: sterling)?|sterling|quid", "GBP"),
    (r"jpy|yen", "JPY"),
    (r"°\s?c\b|degrees? c(?:elsius)?\b|celsius|deg\.? c\b|c\b", "C"),
    (r"°\s?f\b|degrees? f(?:ahrenheit)?\b|fahrenheit|deg\.? f\b|f\b", "F"),
    (r"°|degrees?", "deg"),
    (r"%|per ?cent", "%"),
    (r"km\b|kilomet(?:re|er)s?", "km"),
    (r"mi\b|miles?", "mi"),
    (r"days?\b", "days"),
    (r"weeks?\b", "weeks"),
    (r"months?\b", "months"),
    (r"hours?\b", "hours"),
    (r"p\b|pence", "GBX"),
)
_UNIT_AFTER = [
    (re.compile(r"\s?(?:" + pattern + r")", re.I), code) for pattern, code in _UNITS_AFTER
]
_CURRENCY_BEFORE = re.compile(r"(us\$|\$|€|£|¥|usd|eur|gbp|jpy)\s?$", re.I)
_CURRENCY_CODES = {"us$": "USD", "$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
_APPROX_BEFORE = re.compile(
    r"(?:\babout|\baround|\broughly|\bapproximately|\bapprox\.?|\bnearly|\balmost|~|≈|"
    r"\bclose to|\bcirca|\bca\.|\bsome|\bjust (?:over|under)|\bapprox)\s*(?:[$€£¥]|us\$)?\s?$",
    re.I,
)
_APPROX_AFTER = re.compile(r"\s?(?:or so|give or take|-ish|ish)\b", re.I)
_MINUS_WORD = re.compile(r"\bminus\s$", re.I)
_DOWN_WORD = re.compile(
    r"\b(?:down|fell|fallen|dropped|lost|declined|decreased|lower|off)\s(?:by\s)?$", re.I
)
_DOWN_AFTER = re.compile(r"\s?(?:loss|drop|fall|decline|decrease|lower)\b", re.I)
_ENUMERATOR = re.compile(r"\($")
_COMPATIBLE = {"deg": {"C", "F"}}


def _figures(digits: str) -> int:
    stripped = digits.lstrip("0")
    return max(len(stripped), 1)


def extract_quantities(text: str) -> list[Quantity]:
    """Every number in ``text`` as a ``Quantity`` ("$1,250.5" is 1250.5 USD; "\u22123 °C" is -3 C;
    "1.28 million" is 1280000 to the nearest 10000)."""
    text = normalise_text(text)
    found: list[Quantity] = []
    for match in _NUMBER.finditer(text):
        whole = match.group("int").replace(",", "")
        frac = match.group("frac") or match.group("dec") or ""
        value = float(f"{whole}.{frac}" if frac else whole)
        half = 0.5 * 10.0 ** -len(frac)
        before = text[max(0, match.start() - 24) : match.start()]
        if match.group("minus") or _MINUS_WORD.search(before):
            value = -value
        rest = text[match.end() : match.end() + 40]
        scale = _SCALE_AFTER.match(rest)
        if scale:
            factor = _SCALES[scale.group(1).lower()]
            value, half = value * factor, half * factor
            rest = rest[scale.end() :]
        unit = None
        currency = _CURRENCY_BEFORE.search(before)
        if currency:
            token = currency.group(1).lower()
            unit = _CURRENCY_CODES.get(token, token.upper())
        else:
            for pattern, code in _UNIT_AFTER:
                if pattern.match(rest):
                    unit = code
                    break
        if unit == "%" and (_DOWN_WORD.search(before) or _DOWN_AFTER.match(rest[1:])):
            value = -abs(value)
        approx = bool(_APPROX_BEFORE.search(before) or _APPROX_AFTER.match(rest))
        enumerator = bool(_ENUMERATOR.search(before)) and rest.startswith(")")
        found.append(Quantity(value, unit, half, _figures(whole + frac), approx, enumerator))
    return found


def units_compatible(expected: str, written: str | None) -> bool:
    """True when a number written with ``written`` (None: no unit) may stand for ``expected``."""
    if written is None or written == expected.upper():
        return True
    return expected.upper() in _COMPATIBLE.get(written, set())


def in_unit(value: float, unit: str | None, wanted: str | None) -> float | None:
    """``value`` in ``unit`` expressed in ``wanted`` (temperatures convert; None: they do not)."""
    if unit is None or wanted is None or unit == wanted or wanted in _COMPATIBLE.get(unit, ()):
        return value
    if "deg" in (unit, wanted) and {unit, wanted} <= {"deg", "C", "F"}:
        return value
    if (unit, wanted) == ("C", "F"):
        return value * 9 / 5 + 32
    if (unit, wanted) == ("F", "C"):
        return (value - 32) * 5 / 9
    return None


def quantity_matches(
    expected: float,
    found: Quantity,
    *,
    rel_tol: float = 0.0,
    abs_tol: float = 0.0,
    about: bool = False,
) -> bool:
    """True when ``found`` states ``expected``: within the task's tolerance, or a correct
    rounding of it (off by at most half its last written digit) that keeps two significant
    figures within 1 %, or is marked approximate (or the task says "about") within 2 %."""
    value = found.value
    if value == expected or math.isclose(value, expected, rel_tol=rel_tol, abs_tol=abs_tol):
        return True
    diff = abs(value - expected)
    if diff > found.half_unit * (1 + 1e-9) + 1e-12:
        return False
    rel = diff / abs(expected) if expected else math.inf
    if found.figures >= 2 and rel <= 0.01:
        return True
    return (found.approx or about) and rel <= 0.02


_UNITS_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS_WORDS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SPELLED = re.compile(
    r"\b(?:(?P<tens>"
    + "|".join(_TENS_WORDS)
    + r")(?:[- ](?P<unit>"
    + "|".join(_UNITS_WORDS[1:10])
    + r"))?|(?P<small>"
    + "|".join(_UNITS_WORDS)
    + r"))\b",
    re.I,
)


def spelled_quantities(text: str) -> list[Quantity]:
    """Whole numbers below 100 written as words ("forty-eight" is 48)."""
    found = []
    for match in _SPELLED.finditer(normalise_text(text)):
        if match.group("small"):
            value = _UNITS_WORDS.index(match.group("small").lower())
        else:
            value = 20 + 10 * _TENS_WORDS.index(match.group("tens").lower())
            if match.group("unit"):
                value += _UNITS_WORDS.index(match.group("unit").lower())
        found.append(Quantity(float(value), None, 0.5, 2, False))
    return found


_PLAIN_NUMBER = re.compile(r"(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\d])")


def extract_numbers(text: str) -> list[float]:
    """Every number written in ``text`` ("1,250.5" is 1250.5; "-3" is -3)."""
    return [float(m.group(0).replace(",", "")) for m in _PLAIN_NUMBER.finditer(text)]


def numeric_match(
    expected: float, found: Iterable[float], rel_tol: float = 0.0, abs_tol: float = 0.0
) -> bool:
    """True when some found number equals ``expected`` (exactly, unless a tolerance is given)."""
    return any(
        math.isclose(value, expected, rel_tol=rel_tol, abs_tol=abs_tol) or value == expected
        for value in found
    )
