"""The database holds every writer to the years 2000 to 2099 for an activity's time,
and migration 0007 moves rows already outside into them instead of failing."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from scheduler.models import Activity
from tests import factories

BEFORE = ("scheduler", "0006_dispatchrun_lease")
FIRST_MOMENT = datetime(2000, 1, 1, tzinfo=UTC)
LAST_MOMENT = datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
MIGRATION_LOGGER = "scheduler.migrations.0007_activity_occurred_at_bounds"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "moment",
    [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2100, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 0, tzinfo=UTC),
    ],
)
def test_it_refuses_a_row_outside_the_years(moment: datetime) -> None:
    mentor = factories.mentor()
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.activity(mentor, occurred_at=moment)
    row = factories.activity(mentor)
    with pytest.raises(IntegrityError), transaction.atomic():
        Activity.objects.filter(pk=row.pk).update(occurred_at=moment)


@pytest.mark.django_db
@pytest.mark.parametrize("moment", [FIRST_MOMENT, LAST_MOMENT])
def test_it_keeps_a_row_at_either_edge(moment: datetime) -> None:
    row = factories.activity(factories.mentor(), occurred_at=moment)
    assert Activity.objects.get(pk=row.pk).occurred_at == moment


def migrate_to(*targets: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(list(targets) or executor.loader.graph.leaf_nodes())


@pytest.fixture
def before_the_bounds(transactional_db: None) -> Iterator[None]:
    """The database as it was before migration 0007; migrated to the end afterwards."""
    migrate_to(BEFORE)
    yield
    migrate_to()


@pytest.mark.usefixtures("before_the_bounds")
def test_it_moves_rows_outside_the_years_into_them_and_withdraws_them(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mentor = factories.mentor()
    withdrawn = timezone.now() - timedelta(days=2)
    early = factories.activity(mentor, occurred_at=datetime(1999, 6, 1, 12, 0, tzinfo=UTC))
    late = factories.activity(mentor, occurred_at=datetime(9999, 12, 31, 23, 0, tzinfo=UTC))
    first = factories.activity(
        mentor,
        occurred_at=datetime(1, 1, 1, tzinfo=UTC),
        notes="Met at the café.",
        withdrawn_at=withdrawn,
    )
    fine = factories.activity(mentor)

    with caplog.at_level(logging.WARNING, logger=MIGRATION_LOGGER):
        migrate_to(("scheduler", "0007_activity_occurred_at_bounds"))

    rows = Activity.objects.in_bulk([early.pk, late.pk, first.pk, fine.pk])
    assert rows[early.pk].occurred_at == FIRST_MOMENT
    assert rows[late.pk].occurred_at == datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert rows[first.pk].occurred_at == FIRST_MOMENT
    assert rows[early.pk].notes.startswith("[occurred_at was 1999-06-01 12:00:00")
    assert rows[late.pk].notes.startswith("[occurred_at was 9999-12-31 23:00:00")
    assert rows[first.pk].notes.startswith("Met at the café.\n[occurred_at was 0001-01-01 00:00:00")
    assert rows[early.pk].withdrawn_at is not None
    assert rows[late.pk].withdrawn_at is not None
    assert rows[first.pk].withdrawn_at == withdrawn
    assert (rows[fine.pk].occurred_at, rows[fine.pk].notes, rows[fine.pk].withdrawn_at) == (
        fine.occurred_at,
        "",
        None,
    )
    [warning] = [r for r in caplog.records if r.name == MIGRATION_LOGGER]
    assert warning.getMessage().startswith("3 activities had an occurred_at outside")
    assert f"(ids {early.pk}, {late.pk}, {first.pk})" in warning.getMessage()
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.activity(mentor, occurred_at=datetime(2100, 1, 1, tzinfo=UTC))


@pytest.mark.postgres
@pytest.mark.usefixtures("before_the_bounds")
def test_it_moves_a_year_bc_that_psycopg_cannot_read() -> None:
    row = factories.activity(factories.mentor())
    with connection.cursor() as cursor:
        # What the API once stored for "0001-01-01T00:00:00+01:00": 1 BC in UTC.
        cursor.execute(
            "UPDATE scheduler_activity SET occurred_at = '0001-01-01 00:00:00+01' WHERE id = %s",
            [row.pk],
        )
    migrate_to(("scheduler", "0007_activity_occurred_at_bounds"))
    moved = Activity.objects.get(pk=row.pk)
    assert moved.occurred_at == FIRST_MOMENT
    assert moved.notes == (
        "[occurred_at was 0001-12-31 23:00:00+00 BC (UTC), outside the years 2000 to 2099: "
        "moved into them and withdrawn]"
    )
    assert moved.withdrawn_at is not None
