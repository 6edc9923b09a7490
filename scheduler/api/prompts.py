"""The prompts a mentor received, newest first, and which ones they opened."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Path, Router
from ninja.errors import ValidationError

from scheduler.api.schemas import PromptOut, PromptPage
from scheduler.models import PeerMentor, PromptHistory

router = Router(tags=["prompts"])

PromptId = Annotated[int, Path(ge=1, le=2**63 - 1)]

PAGE_SIZE = 50
FIELDS = [
    "id",
    "scenario_id",
    "title",
    "body",
    "status",
    "due_at",
    "dispatched_at",
    "opened_at",
]


@router.get("", response=PromptPage)
def list_prompts(request: HttpRequest, cursor: str | None = None) -> dict[str, object]:
    """Pages of at most 50, newest first; follow `next_cursor` until it is null.

    Ids only grow, so a page continues below the last id seen: prompts that
    arrive meanwhile come before the first page and never shift the next one.
    """
    mentor: PeerMentor = request.auth  # type: ignore[attr-defined]
    prompts = PromptHistory.objects.filter(peer_mentor=mentor).order_by("-id")
    if cursor:
        prompts = prompts.filter(id__lt=id_from_cursor(cursor))
    page = list(prompts.values(*FIELDS)[: PAGE_SIZE + 1])
    more = len(page) > PAGE_SIZE
    items = page[:PAGE_SIZE]
    return {
        "items": [PromptOut(**item) for item in items],
        "next_cursor": cursor_after(items[-1]["id"]) if more else None,
    }


@router.post("/{prompt_id}/opened", response={204: None})
def mark_opened(request: HttpRequest, prompt_id: PromptId) -> HttpResponse:
    """Record when the mentor first opened the prompt; later calls change nothing."""
    mentor: PeerMentor = request.auth  # type: ignore[attr-defined]
    prompts = PromptHistory.objects.filter(pk=prompt_id, peer_mentor=mentor)
    opened = prompts.filter(opened_at__isnull=True).update(opened_at=timezone.now())
    if not opened and not prompts.exists():
        raise Http404
    return HttpResponse(status=204)


def cursor_after(prompt_id: int) -> str:
    return base64.urlsafe_b64encode(f"p{prompt_id}".encode()).decode().rstrip("=")


def id_from_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        if len(cursor) > 40 or not text.startswith("p"):
            raise ValueError
        value = int(text[1:])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid_cursor() from None
    if value < 1:
        raise invalid_cursor()
    return value


def invalid_cursor() -> ValidationError:
    return ValidationError([{"loc": ("query", "cursor"), "msg": "not a cursor this API gave out"}])
