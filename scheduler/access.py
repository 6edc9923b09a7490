"""Chapter scoping: a coordinator sees and edits only their chapters' data.

Superusers see everything. Any other staff user is scoped to the chapters of
their `Coordinator` row, and to none when they have no such row. Who may start
a dispatch run from the admin is decided here as well.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.db.models import Q, QuerySet

from scheduler.models import Chapter, Coordinator, PeerMentor

User = AbstractUser | AnonymousUser

_CACHE_ATTR = "_scheduler_chapter_ids"


def sees_everything(user: User) -> bool:
    return bool(getattr(user, "is_superuser", False))


def chapter_ids(user: User) -> frozenset[int] | None:
    """The chapters `user` may see; None means every chapter."""
    if sees_everything(user):
        return None
    if user.pk is None:  # anonymous
        return frozenset()
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        ids = Coordinator.chapters.through.objects.filter(coordinator__user_id=user.pk)
        cached = frozenset(ids.values_list("chapter_id", flat=True))
        setattr(user, _CACHE_ATTR, cached)
    return cached


def in_chapters(user: User, chapter_path: str) -> Q:
    """A filter keeping rows whose `chapter_path` is one of the user's chapters."""
    ids = chapter_ids(user)
    if ids is None:
        return Q()
    return Q(**{f"{chapter_path}__in": ids})


def in_chapters_or_everyone(user: User, chapter_path: str) -> Q:
    """Like `in_chapters`, also keeping chapter-less rows (those apply to every chapter)."""
    ids = chapter_ids(user)
    if ids is None:
        return Q()
    return Q(**{f"{chapter_path}__in": ids}) | Q(**{f"{chapter_path}__isnull": True})


def scope(qs: QuerySet, user: User, chapter_path: str) -> QuerySet:
    return qs.filter(in_chapters(user, chapter_path))


def chapters_for(user: User) -> QuerySet[Chapter]:
    return scope(Chapter.objects.all(), user, "pk")


def mentors_for(user: User) -> QuerySet[PeerMentor]:
    return scope(PeerMentor.objects.select_related("chapter"), user, "chapter")


def may_edit_chapter(user: User, chapter_id: int | None) -> bool:
    """Chapter-less (everyone's) rows are edited only by those who see every chapter."""
    ids = chapter_ids(user)
    if ids is None:
        return True
    return chapter_id is not None and chapter_id in ids


# Starting a dispatch run from the admin ("run now", and the prompt log's retry).
RUN_NOW_PERMISSION = "scheduler.run_dispatch_now"


def may_run_now(user: User) -> bool:
    """The permission, and at least one chapter to run for."""
    return user.has_perm(RUN_NOW_PERMISSION) and chapter_ids(user) != frozenset()
