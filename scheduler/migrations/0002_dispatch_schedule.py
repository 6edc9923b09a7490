"""Create the django-q2 schedule that runs dispatch, once, whatever the rerun."""

from __future__ import annotations

from django.conf import settings
from django.db import migrations

SCHEDULE_NAME = "scheduler.dispatch"
TASK = "scheduler.tasks.scheduled_dispatch"


def create_schedule(apps, schema_editor) -> None:
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=SCHEDULE_NAME,
        defaults={
            "func": TASK,
            "schedule_type": "I",  # minutes
            "minutes": settings.DISPATCH_INTERVAL_MINUTES,
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor) -> None:
    apps.get_model("django_q", "Schedule").objects.filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("scheduler", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
