import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scheduler", "0004_devicetoken_token_length"),
    ]

    operations = [
        migrations.AddField(
            model_name="activity",
            name="client_id",
            field=models.UUIDField(blank=True, null=True, verbose_name="app id"),
        ),
        migrations.AddField(
            model_name="activity",
            name="withdrawn_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="withdrawn"),
        ),
        migrations.AddField(
            model_name="peermentor",
            name="auth_user_id",
            field=models.UUIDField(
                blank=True,
                help_text="The mentor's user id in Supabase Auth, which the mobile app signs in with.",
                null=True,
                unique=True,
                verbose_name="app user id",
            ),
        ),
        migrations.AddField(
            model_name="prompthistory",
            name="opened_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="opened in the app"),
        ),
        migrations.AlterField(
            model_name="prompthistory",
            name="activity",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.RESTRICT,
                related_name="prompts",
                to="scheduler.activity",
            ),
        ),
        migrations.AddConstraint(
            model_name="activity",
            constraint=models.UniqueConstraint(
                fields=("peer_mentor", "client_id"), name="activity_unique_client_id"
            ),
        ),
    ]
