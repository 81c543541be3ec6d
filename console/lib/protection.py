"""Reviewer protection: which images a reviewer sees blurred or in greyscale until revealed.

Pure: the effective setting (console.models.Profile.protection) decides, from an image's
predicted or labeled categories, the CSS classes its thumbnail starts with.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from moderation import taxonomy

NONE, BLUR, GREYSCALE, BOTH = "none", "blur", "greyscale", "both"
MODES = [
    (NONE, "Show images as they are"),
    (BLUR, "Blur"),
    (GREYSCALE, "Greyscale"),
    (BOTH, "Blur and greyscale"),
]
# The classes static/css/console.css styles and static/js/protection.js removes on reveal.
CLASSES = {NONE: "", BLUR: "blurred", GREYSCALE: "greyscale", BOTH: "blurred greyscale"}


@dataclass(frozen=True)
class Protection:
    mode: str
    categories: frozenset[str]

    def classes(self, names: Iterable[str]) -> str:
        """The classes of an image predicted or labeled with `names` (any level of the taxonomy):
        "" when none of its top-level categories is protected."""
        if not CLASSES.get(self.mode) or not self.categories:
            return ""
        tops = {taxonomy.top_level_of(name) for name in names if taxonomy.is_label(name)}
        return CLASSES[self.mode] if tops & self.categories else ""
