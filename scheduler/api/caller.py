"""Who is calling: a bearer token of an active mentor (see `scheduler.api.throttle` for how often)."""

from __future__ import annotations

import logging

from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security.http import HttpBearer

from scheduler.api import throttle
from scheduler.api.auth import InvalidToken, user_id_from
from scheduler.models import PeerMentor

logger = logging.getLogger(__name__)

NOT_A_MENTOR = "This account is not linked to an active peer mentor."


class MentorBearer(HttpBearer):
    """`Authorization: Bearer <Supabase access token>` of an active, linked mentor.

    A request that does not authenticate (401, 403) counts against its address's
    `API_AUTH_FAILURE_RATE`; past it, such requests get 429 instead.
    """

    def __call__(self, request: HttpRequest) -> PeerMentor | None:
        # Unlike HttpBearer, never log the header: it is a credential.
        scheme, _, token = request.headers.get(self.header, "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            throttle.count_failed_sign_in(throttle.client_address(request))
            return None
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> PeerMentor | None:
        address = throttle.client_address(request)
        try:
            user_id = user_id_from(token)
        except InvalidToken as exc:
            logger.info("refused an API token: %s", exc)
            throttle.count_failed_sign_in(address)
            return None
        throttle.refuse_known_unlinked(address, user_id)
        mentor = PeerMentor.objects.filter(auth_user_id=user_id, is_active=True).first()
        if mentor is None:
            throttle.remember_unlinked(user_id)
            throttle.count_failed_sign_in(address)
            raise HttpError(403, NOT_A_MENTOR)
        return mentor
