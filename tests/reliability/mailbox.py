"""Read what Django's file-based email backend wrote: every message, from every process."""

from __future__ import annotations

import email
from collections import Counter
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

# The file-based backend ends each message with a line of 79 dashes.
SEPARATOR = b"\n" + b"-" * 79 + b"\n"


@dataclass(frozen=True)
class Mail:
    to: str
    body: str


def read_mailbox(folder: Path) -> list[Mail]:
    mails: list[Mail] = []
    for path in sorted(folder.glob("*.log")):
        for chunk in path.read_bytes().split(SEPARATOR):
            if chunk.strip():
                mails.append(parsed(email.message_from_bytes(chunk.lstrip())))
    return mails


def parsed(message: Message) -> Mail:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return Mail(
        to=str(message["To"]), body=payload.decode(message.get_content_charset() or "utf-8")
    )


def refs_told(mails: list[Mail], refs: list[str]) -> Counter[tuple[str, str]]:
    """(address, contact reference) -> how many emails told that address about it."""
    return Counter((m.to, ref) for m in mails for ref in refs if ref in m.body)
