"""The Rekognition moderation label taxonomy, version 7, as data.

Plain Python, no Django import: the engine, the manifest reader, forms and the
API all validate labels against this one module.
"""

from __future__ import annotations

from dataclasses import dataclass

VERSION = "7.0"

# L1 -> {L2 -> [L3, ...]}, exactly as Rekognition spells the names.
TAXONOMY_V7: dict[str, dict[str, list[str]]] = {
    "Explicit": {
        "Explicit Nudity": [
            "Exposed Male Genitalia",
            "Exposed Female Genitalia",
            "Exposed Buttocks or Anus",
            "Exposed Female Nipple",
        ],
        "Explicit Sexual Activity": [],
        "Sex Toys": [],
    },
    "Non-Explicit Nudity of Intimate parts and Kissing": {
        "Non-Explicit Nudity": [
            "Bare Back",
            "Exposed Male Nipple",
            "Partially Exposed Buttocks",
            "Partially Exposed Female Breast",
            "Implied Nudity",
        ],
        "Obstructed Intimate Parts": ["Obstructed Female Nipple", "Obstructed Male Genitalia"],
        "Kissing on the Lips": [],
    },
    "Swimwear or Underwear": {"Female Swimwear or Underwear": [], "Male Swimwear or Underwear": []},
    "Violence": {
        "Weapons": [],
        "Graphic Violence": [
            "Weapon Violence",
            "Physical Violence",
            "Self-Harm",
            "Blood & Gore",
            "Explosions and Blasts",
        ],
    },
    "Visually Disturbing": {
        "Death and Emaciation": ["Emaciated Bodies", "Corpses"],
        "Crashes": ["Air Crash"],
    },
    "Drugs & Tobacco": {
        "Products": ["Pills"],
        "Drugs & Tobacco Paraphernalia & Use": ["Smoking"],
    },
    "Alcohol": {"Alcohol Use": ["Drinking"], "Alcoholic Beverages": []},
    "Rude Gestures": {"Middle Finger": []},
    "Gambling": {},
    "Hate Symbols": {"Nazi Party": [], "White Supremacy": [], "Extremist": []},
}

# v6.1 top-level names (older adapters, manifests and the AWS doc examples) onto v7 top-level names.
V6_TOP_LEVEL: dict[str, list[str]] = {
    "Explicit Nudity": ["Explicit"],
    "Nudity": ["Explicit"],
    "Suggestive": ["Non-Explicit Nudity of Intimate parts and Kissing", "Swimwear or Underwear"],
    "Violence": ["Violence"],
    "Visually Disturbing": ["Visually Disturbing"],
    "Rude Gestures": ["Rude Gestures"],
    "Rude Gesture": ["Rude Gestures"],
    "Drugs": ["Drugs & Tobacco"],
    "Tobacco": ["Drugs & Tobacco"],
    "Alcohol": ["Alcohol"],
    "Gambling": ["Gambling"],
    "Hate Symbols": ["Hate Symbols"],
}

CONTENT_TYPES = ("Animated", "Illustrated")

# Reviewer protection: the top-level categories whose images are shown blurred (or in greyscale)
# until revealed, unless an admin or the reviewer chooses others (console.models.OrganisationProtection).
PROTECTED_BY_DEFAULT: tuple[str, ...] = (
    "Explicit",
    "Non-Explicit Nudity of Intimate parts and Kissing",
    "Visually Disturbing",
    "Violence",
)


@dataclass(frozen=True)
class Label:
    name: str
    parent: str  # "" for a top-level label
    level: int  # 1, 2 or 3


def _build() -> dict[str, Label]:
    labels: dict[str, Label] = {}
    for top, seconds in TAXONOMY_V7.items():
        labels[top] = Label(top, "", 1)
        for second, thirds in seconds.items():
            labels[second] = Label(second, top, 2)
            for third in thirds:
                labels[third] = Label(third, second, 3)
    return labels


LABELS: dict[str, Label] = _build()
TOP_LEVEL: tuple[str, ...] = tuple(TAXONOMY_V7)


class UnknownLabel(ValueError):
    pass


def get(name: str) -> Label:
    try:
        return LABELS[name]
    except KeyError:
        raise UnknownLabel(f"{name!r} is not a label of moderation taxonomy {VERSION}") from None


def is_label(name: str) -> bool:
    return name in LABELS


def ancestors(name: str) -> list[Label]:
    """The label itself, then its parent, then its grandparent."""
    chain = [get(name)]
    while chain[-1].parent:
        chain.append(LABELS[chain[-1].parent])
    return chain


def top_level_of(name: str) -> str:
    return ancestors(name)[-1].name


def normalize_training_label(name: str) -> list[str]:
    """Turn a label from a training manifest into v7 top-level names.

    Adapters are trained on top-level categories (AWS ignores second-level names in
    training manifests), so a v7 top-level name is kept, a v6 top-level name maps
    through V6_TOP_LEVEL, and anything else raises UnknownLabel with the reason.
    """
    if name in TAXONOMY_V7:
        return [name]
    if name in V6_TOP_LEVEL:
        return list(V6_TOP_LEVEL[name])
    if name in LABELS:
        label = LABELS[name]
        raise UnknownLabel(
            f"{name!r} is a level-{label.level} label; training labels are top-level "
            f"categories (use {top_level_of(name)!r})"
        )
    raise UnknownLabel(f"{name!r} is not a label of moderation taxonomy {VERSION} or a v6 top-level name")


def choices() -> list[tuple[str, str]]:
    """(value, display) pairs for every label, indented by level, for pickers."""
    return [(label.name, "  " * (label.level - 1) + label.name) for label in LABELS.values()]
