"""An activity's time stays within the years 2000 to 2099 (UTC): a CHECK constraint.

Rows already outside (a year BC that PostgreSQL stores but psycopg cannot read,
the last hours of 9999 that have no local time) are kept, never deleted: each is
moved to the nearest bound (2000-01-01 00:00 or 2099-12-31 23:59:59 UTC), withdrawn
(so it triggers and cancels nothing), and its original time, as the database
prints it, is added to its notes. The migration logs how many and which ids, at
WARNING. All of it is SQL: a year BC cannot be read into Python. Migrating back
drops the constraint and leaves the moved rows as they are.
"""

import logging
from datetime import UTC, datetime, timedelta

from django.db import migrations, models
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Cast, Coalesce, Concat

logger = logging.getLogger(__name__)

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
END = datetime(2100, 1, 1, tzinfo=UTC)
LATEST = END - timedelta(seconds=1)
SHOWN_IDS = 100


def move_activities_into_range(apps, schema_editor):
    Activity = apps.get_model("scheduler", "Activity")
    outside = Activity.objects.using(schema_editor.connection.alias).filter(
        Q(occurred_at__lt=EARLIEST) | Q(occurred_at__gte=END)
    )
    ids = list(outside.order_by("pk").values_list("pk", flat=True)[: SHOWN_IDS + 1])
    if not ids:
        return
    moved = outside.update(
        notes=Concat(
            F("notes"),
            Case(When(notes="", then=Value("")), default=Value("\n")),
            Value("[occurred_at was "),
            Cast("occurred_at", models.TextField()),
            Value(" (UTC), outside the years 2000 to 2099: moved into them and withdrawn]"),
            output_field=models.TextField(),
        ),
        occurred_at=Case(
            When(occurred_at__lt=EARLIEST, then=Value(EARLIEST)),
            default=Value(LATEST),
            output_field=models.DateTimeField(),
        ),
        withdrawn_at=Coalesce(
            F("withdrawn_at"), Value(datetime.now(UTC), output_field=models.DateTimeField())
        ),
    )
    shown = ", ".join(str(pk) for pk in ids[:SHOWN_IDS]) + (", ..." if len(ids) > SHOWN_IDS else "")
    logger.warning(
        "%d activities had an occurred_at outside the years 2000 to 2099: moved to the "
        "nearest bound and withdrawn, the original time added to their notes (ids %s)",
        moved,
        shown,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("scheduler", "0006_dispatchrun_lease"),
    ]

    operations = [
        migrations.RunPython(move_activities_into_range, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="activity",
            constraint=models.CheckConstraint(
                condition=models.Q(occurred_at__gte=EARLIEST, occurred_at__lt=END),
                name="activity_occurred_at_bounds",
                violation_error_message="Give a time in the years 2000 to 2099.",
            ),
        ),
    ]
