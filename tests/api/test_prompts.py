"""GET /api/v1/prompts and POST /api/v1/prompts/{id}/opened."""

from __future__ import annotations

import pytest

from scheduler.models import PeerMentor, PromptHistory
from tests import factories
from tests.api.conftest import App

pytestmark = pytest.mark.django_db


def make_prompts(mentor: PeerMentor, count: int) -> list[PromptHistory]:
    """`count` prompts for `mentor`, oldest first, as the dispatch records them."""
    scenario = factories.scenario()
    return [factories.prompt(scenario, a) for a in factories.activities([mentor] * count)]


def test_it_lists_the_callers_prompts_newest_first(app: App, other_app: App) -> None:
    mine = make_prompts(app.mentor, 3)
    make_prompts(other_app.mentor, 2)
    page = app.get("/prompts").json()
    assert [item["id"] for item in page["items"]] == [p.pk for p in reversed(mine)]
    assert page["next_cursor"] is None
    newest = mine[-1]
    assert page["items"][0] == {
        "id": newest.pk,
        "scenario_id": newest.scenario_id,
        "title": "Time to check in",
        "body": "A few days have passed since your first contact.",
        "status": "dispatched",
        "due_at": page["items"][0]["due_at"],
        "dispatched_at": page["items"][0]["dispatched_at"],
        "opened_at": None,
    }
    assert page["items"][0]["due_at"] is not None


def test_it_pages_without_repeats_or_gaps_while_prompts_arrive(app: App) -> None:
    existing = make_prompts(app.mentor, 120)
    seen: list[int] = []
    first = app.get("/prompts").json()
    seen += [item["id"] for item in first["items"]]
    cursor = first["next_cursor"]
    pages = 1
    while cursor:
        make_prompts(app.mentor, 7)  # new prompts land between page requests
        page = app.get("/prompts", cursor=cursor).json()
        assert len(page["items"]) <= 50
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        pages += 1
    assert pages == 3
    assert seen == [p.pk for p in reversed(existing)]


def test_it_shows_new_prompts_from_the_first_page(app: App) -> None:
    make_prompts(app.mentor, 60)
    app.get("/prompts")
    newer = make_prompts(app.mentor, 1)
    assert app.get("/prompts").json()["items"][0]["id"] == newer[0].pk


def test_it_never_shows_another_mentors_prompts_through_a_cursor(app: App, other_app: App):
    make_prompts(app.mentor, 51)
    cursor = app.get("/prompts").json()["next_cursor"]
    other_ids = {p.pk for p in make_prompts(other_app.mentor, 5)}
    page = app.get("/prompts", cursor=cursor).json()
    assert not other_ids & {item["id"] for item in page["items"]}


@pytest.mark.parametrize("cursor", ["garbage!", "cDA", "MTIz", "cC0x", "x" * 100])
def test_it_refuses_a_cursor_it_did_not_give_out(app: App, cursor: str) -> None:
    response = app.get("/prompts", cursor=cursor)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "cursor"


def test_it_marks_a_prompt_opened(app: App) -> None:
    (prompt,) = make_prompts(app.mentor, 1)
    assert app.post(f"/prompts/{prompt.pk}/opened").status_code == 204
    prompt.refresh_from_db()
    assert prompt.opened_at is not None
    assert app.get("/prompts").json()["items"][0]["opened_at"] is not None


def test_it_keeps_the_first_opening(app: App) -> None:
    (prompt,) = make_prompts(app.mentor, 1)
    app.post(f"/prompts/{prompt.pk}/opened")
    prompt.refresh_from_db()
    assert app.post(f"/prompts/{prompt.pk}/opened").status_code == 204
    assert PromptHistory.objects.get(pk=prompt.pk).opened_at == prompt.opened_at


def test_it_hides_another_mentors_prompt(app: App, other_app: App) -> None:
    (theirs,) = make_prompts(other_app.mentor, 1)
    response = app.post(f"/prompts/{theirs.pk}/opened")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    assert PromptHistory.objects.get(pk=theirs.pk).opened_at is None


@pytest.mark.parametrize("prompt_id", ["0", "abc", str(2**63), "-1"])
def test_it_refuses_an_impossible_prompt_id(app: App, prompt_id: str) -> None:
    response = app.post(f"/prompts/{prompt_id}/opened")
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "prompt_id"


def test_it_answers_404_for_an_unknown_prompt(app: App) -> None:
    assert app.post("/prompts/999999/opened").status_code == 404
