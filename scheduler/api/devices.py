"""A mentor's phones: the push tokens their prompts go to."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Router, Status

from scheduler.api.schemas import DeviceIn, DeviceOut, UnregisterIn
from scheduler.models import DeviceToken, PeerMentor

logger = logging.getLogger(__name__)

router = Router(tags=["devices"])

UNREGISTERED = "Unregistered by the app."


@router.post("", response={200: DeviceOut, 201: DeviceOut})
def register_device(request: HttpRequest, payload: DeviceIn) -> Status[DeviceToken]:
    """Register a push token for the caller, or refresh it (it may come from another mentor)."""
    mentor: PeerMentor = request.auth  # type: ignore[attr-defined]
    try:
        with transaction.atomic():
            device = DeviceToken.objects.create(
                peer_mentor=mentor, token=payload.token, platform=payload.platform
            )
        return Status(201, device)
    except IntegrityError:
        pass  # the token is known: it moves to the caller and is active again
    with transaction.atomic():
        device = DeviceToken.objects.select_for_update().get(token=payload.token)
        if device.peer_mentor_id != mentor.pk:
            log_move(device, mentor)
        device.peer_mentor = mentor
        device.platform = payload.platform
        device.is_active = True
        device.deactivated_at = None
        device.deactivation_reason = ""
        device.save()
    return Status(200, device)


@router.post("/unregister", response={204: None})
def unregister_device(request: HttpRequest, payload: UnregisterIn) -> HttpResponse:
    """The caller's token stops receiving prompts; any other token is left as it is."""
    mentor: PeerMentor = request.auth  # type: ignore[attr-defined]
    DeviceToken.objects.filter(peer_mentor=mentor, token=payload.token, is_active=True).update(
        is_active=False, deactivated_at=timezone.now(), deactivation_reason=UNREGISTERED
    )
    return HttpResponse(status=204)


def log_move(device: DeviceToken, mentor: PeerMentor) -> None:
    # A phone that changes hands is expected; a token collected from another
    # mentor's phone moves the same way, so each move leaves a trace (never the token).
    logger.warning(
        "device token %s moved from peer mentor %s to peer mentor %s",
        device.pk,
        device.peer_mentor_id,
        mentor.pk,
    )
