import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

FINISHED = ("dispatched", "failed", "skipped")
# Coordinators read their chapters' escalations and mark them handled.
COORDINATOR_PERMISSIONS = ["view_escalation", "change_escalation"]


def grant_coordinators(apps, schema_editor):
    app_config = apps.get_app_config("scheduler")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    group = apps.get_model("auth", "Group").objects.filter(name="Coordinator").first()
    if group is None:
        return
    permissions = apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="scheduler", codename__in=COORDINATOR_PERMISSIONS
    )
    group.permissions.add(*permissions)


def fill_finished_at(apps, schema_editor):
    """Finished rows get their latest timestamp (dispatched ones their dispatched_at): one UPDATE."""
    connection = schema_editor.connection
    table = connection.ops.quote_name("scheduler_prompthistory")
    latest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    stamps = ", ".join(
        f"COALESCE({column}, created_at)"
        for column in ("dispatched_at", "sending_started_at", "claimed_at", "created_at")
    )
    sql = (
        f"UPDATE {table} SET finished_at = CASE WHEN status = %s AND dispatched_at IS NOT NULL "
        f"THEN dispatched_at ELSE {latest}({stamps}) END "
        f"WHERE finished_at IS NULL AND status IN (%s, %s, %s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, ["dispatched", *FINISHED])


class Migration(migrations.Migration):
    dependencies = [
        ("scheduler", "0010_working_days"),
        ("auth", "0012_alter_user_first_name_max_length"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Escalation",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "created_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="created"),
                ),
                (
                    "notified_at",
                    models.DateTimeField(
                        blank=True, default=None, null=True, verbose_name="coordinators told"
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("open", "open"),
                            ("followed_up", "followed up"),
                            ("handled", "handled"),
                        ],
                        default="open",
                        max_length=12,
                        verbose_name="status",
                    ),
                ),
                (
                    "handled_at",
                    models.DateTimeField(
                        blank=True, default=None, null=True, verbose_name="handled"
                    ),
                ),
                ("note", models.TextField(blank=True, default="", verbose_name="note")),
            ],
            options={
                "verbose_name": "concern without follow-up",
                "verbose_name_plural": "concerns without follow-up",
                "ordering": ["-created_at", "-pk"],
            },
        ),
        migrations.AddField(
            model_name="prompthistory",
            name="finished_at",
            field=models.DateTimeField(
                blank=True, default=None, null=True, verbose_name="finished"
            ),
        ),
        migrations.AddField(
            model_name="scenario",
            name="escalate_after_days",
            field=models.PositiveSmallIntegerField(
                blank=True,
                default=None,
                help_text="Email the chapter's coordinators when the mentor has logged no later activity for the contact this many days after the prompt. Leave empty to switch it off.",
                null=True,
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(30),
                ],
                verbose_name="tell the coordinators after (days)",
            ),
        ),
        migrations.AddIndex(
            model_name="prompthistory",
            index=models.Index(fields=["scenario", "finished_at"], name="prompt_scenario_finished"),
        ),
        migrations.AddConstraint(
            model_name="scenario",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("escalate_after_days__isnull", True),
                    models.Q(("escalate_after_days__gte", 1), ("escalate_after_days__lte", 30)),
                    _connector="OR",
                ),
                name="scenario_escalate_after_days_range",
            ),
        ),
        migrations.AddField(
            model_name="escalation",
            name="handled_by",
            field=models.ForeignKey(
                blank=True,
                default=None,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="handled by",
            ),
        ),
        migrations.AddField(
            model_name="escalation",
            name="prompt",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="escalation",
                to="scheduler.prompthistory",
                verbose_name="prompt",
            ),
        ),
        migrations.AddField(
            model_name="escalation",
            name="run",
            field=models.ForeignKey(
                blank=True,
                default=None,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="escalations",
                to="scheduler.dispatchrun",
            ),
        ),
        migrations.AddIndex(
            model_name="escalation",
            index=models.Index(fields=["created_at"], name="escalation_created"),
        ),
        migrations.AddIndex(
            model_name="escalation",
            index=models.Index(
                condition=models.Q(("status", "open")), fields=["status"], name="escalation_open"
            ),
        ),
        migrations.AddIndex(
            model_name="escalation",
            index=models.Index(
                condition=models.Q(("notified_at__isnull", True)),
                fields=["created_at"],
                name="escalation_unsent",
            ),
        ),
        migrations.RunPython(fill_finished_at, migrations.RunPython.noop, elidable=True),
        migrations.RunPython(grant_coordinators, migrations.RunPython.noop),
    ]
