"""Secrets a server echoes back (device tokens, the service key), masked before any text is kept."""

from __future__ import annotations

import re
from dataclasses import replace

from scheduler.models import masked_token
from scheduler.push.base import SendOutcome

# A run of this many characters of a secret in an error text is masked even
# where the rest is missing (cut off, or split by the server's line breaks).
SECRET_FRAGMENT_LENGTH = 12
# What a server may put between or instead of a secret's characters when it echoes
# it: whitespace, JSON escapes (\u0041, \/) and escaped line breaks.
_NOISE = re.compile(r"\s+|\\u([0-9a-fA-F]{4})|\\[nrtbf]|\\(.)", re.DOTALL)


def scrub(text: str, *secrets: str) -> str:
    """Never let a device token or key echoed back by a server reach the history or logs.

    Beyond the secret itself this masks any run of SECRET_FRAGMENT_LENGTH or
    more of its characters, also with whitespace or JSON escapes in between,
    in any case: a server may echo a key upper-cased.
    """
    for secret in secrets:
        if secret:
            text = replace_in_any_case(text, secret, masked_token(secret))
            text = mask_fragments(text, secret)
    return text


def replace_in_any_case(text: str, old: str, new: str) -> str:
    # A function, not a replacement string: `new` is taken as it is, backslashes too.
    return re.compile(re.escape(old), re.IGNORECASE).sub(lambda _: new, text)


def mask_fragments(text: str, secret: str) -> str:
    size = min(SECRET_FRAGMENT_LENGTH, len(secret))
    folded = fold_case(secret)
    pieces = {folded[i : i + size] for i in range(len(folded) - size + 1)}
    letters, starts, ends = skeleton(text)
    letters = fold_case(letters)
    runs: list[tuple[int, int]] = []
    for i in range(len(letters) - size + 1):
        if letters[i : i + size] not in pieces:
            continue
        if runs and i <= runs[-1][1]:
            runs[-1] = (runs[-1][0], i + size)
        else:
            runs.append((i, i + size))
    for first, end in reversed(runs):
        mask = masked_token(secret) if letters[first:end] == folded else "…"
        text = text[: starts[first]] + mask + text[ends.get(end - 1, starts[end - 1] + 1) :]
    return text


def fold_case(text: str) -> str:
    """Lower case, one character for one, so offsets into `text` still hold."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    # A few letters lower to two characters ("İ"): those stay as they are.
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def skeleton(text: str) -> tuple[str, list[int], dict[int, int]]:
    """The text without whitespace and with JSON escapes decoded, and where each letter came from.

    Returns the letters, each letter's start offset in `text`, and the end offsets
    of the letters that came from an escape (any other letter is one character).
    """
    letters: list[str] = []
    starts: list[int] = []
    escape_ends: dict[int, int] = {}
    position = 0
    for match in _NOISE.finditer(text):
        letters.append(text[position : match.start()])
        starts.extend(range(position, match.start()))
        position = match.end()
        hex_code, escaped = match.groups()
        letter = chr(int(hex_code, 16)) if hex_code else escaped
        if letter and not letter.isspace():
            escape_ends[len(starts)] = match.end()
            letters.append(letter)
            starts.append(match.start())
    letters.append(text[position:])
    starts.extend(range(position, len(text)))
    return "".join(letters), starts, escape_ends


def scrub_body(body: bytes, *secrets: str) -> bytes:
    """Mask secrets in an error body before any of it is cut short: a cut would leave a prefix
    unmasked."""
    return scrub(body.decode("utf-8", errors="replace"), *secrets).encode()


def scrub_outcome(outcome: SendOutcome, *secrets: str) -> SendOutcome:
    if not outcome.error:
        return outcome
    return replace(outcome, error=scrub(outcome.error, *secrets))
