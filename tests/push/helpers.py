"""Small builders shared by the push tests."""

from __future__ import annotations

from scheduler.push import PushMessage


def message(
    *,
    token: str = "device-token-abcdef123456",
    prompt_id: int | None = 41,
    mentor_id: int = 7,
    scenario_id: int = 3,
) -> PushMessage:
    return PushMessage(
        prompt_id=prompt_id,
        peer_mentor_id=mentor_id,
        scenario_id=scenario_id,
        device_token=token,
        title="Time to check in",
        body="A few days have passed since your first contact.",
    )
