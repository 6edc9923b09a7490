from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scheduler", "0008_remove_benchmark_trigger"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="dispatchrun",
            index=models.Index(
                condition=models.Q(("finished_at__isnull", False)),
                fields=["finished_at"],
                name="dispatchrun_finished",
            ),
        ),
        migrations.AddIndex(
            model_name="dispatchrun",
            index=models.Index(
                condition=models.Q(("error", ""), ("finished_at__isnull", False)),
                fields=["finished_at"],
                name="dispatchrun_finished_ok",
            ),
        ),
        migrations.AddIndex(
            model_name="dispatchrun",
            index=models.Index(fields=["started_at"], name="dispatchrun_started"),
        ),
    ]
