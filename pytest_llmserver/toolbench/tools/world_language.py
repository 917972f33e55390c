"""The fixed world, part 3: languages, phrase translations and measurement units."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

LANGUAGES: Mapping[str, str] = MappingProxyType(
    {
        "de": "German",
        "es": "Spanish",
        "fr": "French",
        "it": "Italian",
        "ja": "Japanese",
        "nl": "Dutch",
        "pt": "Portuguese",
    }
)

# English phrase (normalised) -> translations by ISO 639-1 code
PHRASES: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "good morning": {
            "de": "Guten Morgen",
            "es": "Buenos días",
            "fr": "Bonjour",
            "it": "Buongiorno",
            "ja": "おはようございます",
            "nl": "Goedemorgen",
            "pt": "Bom dia",
        },
        "thank you": {
            "de": "Danke",
            "es": "Gracias",
            "fr": "Merci",
            "it": "Grazie",
            "ja": "ありがとうございます",
            "nl": "Dank je",
            "pt": "Obrigado",
        },
        "where is the train station": {
            "de": "Wo ist der Bahnhof?",
            "es": "¿Dónde está la estación de tren?",
            "fr": "Où est la gare ?",
            "it": "Dov'è la stazione dei treni?",
            "ja": "駅はどこですか\uff1f",
            "nl": "Waar is het treinstation?",
            "pt": "Onde fica a estação de trem?",
        },
        "the meeting is postponed": {
            "de": "Die Besprechung ist verschoben.",
            "es": "La reunión está pospuesta.",
            "fr": "La réunion est reportée.",
            "it": "La riunione è rinviata.",
            "ja": "会議は延期されました。",
            "nl": "De vergadering is uitgesteld.",
            "pt": "A reunião foi adiada.",
        },
        "the invoice is attached": {
            "de": "Die Rechnung ist beigefügt.",
            "es": "La factura está adjunta.",
            "fr": "La facture est jointe.",
            "it": "La fattura è allegata.",
            "ja": "請求書を添付しました。",
            "nl": "De factuur is bijgevoegd.",
            "pt": "A fatura está em anexo.",
        },
        "see you tomorrow": {
            "de": "Bis morgen",
            "es": "Hasta mañana",
            "fr": "À demain",
            "it": "A domani",
            "ja": "また明日",
            "nl": "Tot morgen",
            "pt": "Até amanhã",
        },
    }
)

# unit -> (dimension, factor to the base unit); temperature handled separately
UNITS: Mapping[str, tuple[str, float]] = MappingProxyType(
    {
        "mm": ("length", 0.001),
        "cm": ("length", 0.01),
        "m": ("length", 1.0),
        "km": ("length", 1000.0),
        "in": ("length", 0.0254),
        "ft": ("length", 0.3048),
        "yd": ("length", 0.9144),
        "mi": ("length", 1609.344),
        "mg": ("mass", 0.000001),
        "g": ("mass", 0.001),
        "kg": ("mass", 1.0),
        "t": ("mass", 1000.0),
        "oz": ("mass", 0.028349523125),
        "lb": ("mass", 0.45359237),
        "c": ("temperature", 1.0),
        "f": ("temperature", 1.0),
        "k": ("temperature", 1.0),
    }
)
UNIT_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "millimeter": "mm",
        "millimetre": "mm",
        "centimeter": "cm",
        "centimetre": "cm",
        "meter": "m",
        "metre": "m",
        "kilometer": "km",
        "kilometre": "km",
        "inch": "in",
        "inches": "in",
        "foot": "ft",
        "feet": "ft",
        "yard": "yd",
        "mile": "mi",
        "milligram": "mg",
        "gram": "g",
        "kilogram": "kg",
        "kilo": "kg",
        "tonne": "t",
        "metric ton": "t",
        "ounce": "oz",
        "pound": "lb",
        "lbs": "lb",
        "celsius": "c",
        "°c": "c",
        "degc": "c",
        "fahrenheit": "f",
        "°f": "f",
        "degf": "f",
        "kelvin": "k",
    }
)
