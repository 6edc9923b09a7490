from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scheduler", "0005_mentor_app_api"),
    ]

    operations = [
        migrations.AddField(
            model_name="dispatchrun",
            name="lease_expires_at",
            field=models.DateTimeField(
                blank=True, default=None, null=True, verbose_name="lease expires"
            ),
        ),
    ]
