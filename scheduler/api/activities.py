"""Activities the mentor logs in the app, keyed by the id the app chose."""

from __future__ import annotations

from uuid import UUID

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Router, Status

from scheduler.api.schemas import ActivityIn, ActivityOut, ActivityPatch
from scheduler.models import Activity, PeerMentor

router = Router(tags=["activities"])


@router.post("", response={200: ActivityOut, 201: ActivityOut})
def log_activity(request: HttpRequest, payload: ActivityIn) -> Status[Activity]:
    """Log an activity; sending the same `client_id` again returns the first one (200)."""
    mentor: PeerMentor = request.auth  # type: ignore[attr-defined]
    existing = Activity.objects.filter(peer_mentor=mentor, client_id=payload.client_id).first()
    if existing is not None:
        return Status(200, existing)
    try:
        with transaction.atomic():
            return Status(201, Activity.objects.create(peer_mentor=mentor, **payload.model_dump()))
    except IntegrityError:
        # A retry that raced the first request: the first one's row wins.
        return Status(200, Activity.objects.get(peer_mentor=mentor, client_id=payload.client_id))


@router.patch("/{client_id}", response=ActivityOut)
def correct_activity(request: HttpRequest, client_id: UUID, payload: ActivityPatch) -> Activity:
    """Correct the fields given; prompts already sent for it stay in the history."""
    with transaction.atomic():
        activity = current_activity(request, client_id, for_update=True)
        for field, value in payload.model_dump(exclude_unset=True).items():
            setattr(activity, field, value)
        activity.save()
    return activity


@router.delete("/{client_id}", response={204: None})
def withdraw_activity(request: HttpRequest, client_id: UUID) -> HttpResponse:
    """Withdraw it: it triggers and cancels nothing from now on; its prompt history stays."""
    mentor: PeerMentor = request.auth  # type: ignore[attr-defined]
    activity = get_object_or_404(Activity, peer_mentor=mentor, client_id=client_id)
    Activity.objects.filter(pk=activity.pk, withdrawn_at__isnull=True).update(
        withdrawn_at=timezone.now()
    )
    return HttpResponse(status=204)


def current_activity(request: HttpRequest, client_id: UUID, *, for_update: bool) -> Activity:
    """The caller's activity, not withdrawn; anyone else's is simply not found."""
    mentor: PeerMentor = request.auth  # type: ignore[attr-defined]
    activities = Activity.objects.filter(
        peer_mentor=mentor, client_id=client_id, withdrawn_at__isnull=True
    )
    if for_update:
        activities = activities.select_for_update()
    return get_object_or_404(activities)
