"""Delays in working days: `Scenario.delay_unit` (existing scenarios keep 24-hour days)
and `ClosedPeriod`, which coordinators edit for their own chapters."""

import django.db.models.deletion
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

GROUP_NAME = "Coordinator"
PERMISSIONS = [
    "view_closedperiod",
    "add_closedperiod",
    "change_closedperiod",
    "delete_closedperiod",
]


def grant_closed_periods(apps, schema_editor) -> None:
    app_config = apps.get_app_config("scheduler")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP_NAME)
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="scheduler", codename__in=PERMISSIONS)
    )


def revoke_closed_periods(apps, schema_editor) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name=GROUP_NAME):
        group.permissions.remove(
            *Permission.objects.filter(
                content_type__app_label="scheduler", codename__in=PERMISSIONS
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("scheduler", "0009_dispatchrun_health_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="scenario",
            name="delay_unit",
            field=models.CharField(
                choices=[("days", "days"), ("working_days", "working days")],
                default="days",
                help_text="Working days skip weekends, Norwegian public holidays and the chapter's closed days.",
                max_length=12,
                verbose_name="counted in",
            ),
        ),
        migrations.CreateModel(
            name="ClosedPeriod",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=120, verbose_name="name")),
                ("first_day", models.DateField(verbose_name="first day")),
                (
                    "last_day",
                    models.DateField(help_text="Closed on this day too.", verbose_name="last day"),
                ),
                (
                    "chapter",
                    models.ForeignKey(
                        blank=True,
                        help_text="Leave empty to close every chapter.",
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="closed_periods",
                        to="scheduler.chapter",
                        verbose_name="chapter",
                    ),
                ),
            ],
            options={
                "verbose_name": "closed period",
                "verbose_name_plural": "closed periods",
                "ordering": ["-first_day"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("last_day__gte", models.F("first_day"))),
                        name="closed_period_ends_after_start",
                    )
                ],
            },
        ),
        migrations.RunPython(grant_closed_periods, revoke_closed_periods),
    ]
