from django.db import migrations, models


def benchmark_runs_to_command(apps, schema_editor):
    # The benchmark's runs were started by its command (bench_dispatch).
    DispatchRun = apps.get_model("scheduler", "DispatchRun")
    DispatchRun.objects.filter(trigger="benchmark").update(trigger="command")


class Migration(migrations.Migration):
    dependencies = [
        ("scheduler", "0007_activity_occurred_at_bounds"),
    ]

    operations = [
        migrations.RunPython(benchmark_runs_to_command, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="dispatchrun",
            name="trigger",
            field=models.CharField(
                choices=[("command", "command"), ("schedule", "schedule"), ("admin", "admin")],
                max_length=20,
                verbose_name="started by",
            ),
        ),
    ]
