"""Text a phone would show as nothing: whitespace, and characters that draw nothing."""

from __future__ import annotations

import unicodedata

# Separators (spaces, line and paragraph separators), controls and format
# characters: zero-width space and joiners, direction marks, the byte order
# mark, the soft hyphen, tags.
_BLANK_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})
# Letters and marks that fonts draw as nothing: the Hangul fillers, the blank
# braille pattern, the combining grapheme joiner and the variation selectors.
_DRAWN_AS_NOTHING = frozenset(
    "\u115f\u1160\u3164\uffa0\u2800\u034f\u180b\u180c\u180d\u180f"
    + "".join(map(chr, range(0xFE00, 0xFE10)))
    + "".join(map(chr, range(0xE0100, 0xE01F0)))
)


def is_blank(text: str) -> bool:
    """True when the text shows nothing: empty, whitespace, or invisible characters only."""
    return all(
        ch.isspace() or ch in _DRAWN_AS_NOTHING or unicodedata.category(ch) in _BLANK_CATEGORIES
        for ch in text
    )
