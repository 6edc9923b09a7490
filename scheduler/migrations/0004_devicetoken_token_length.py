import django.core.validators
from django.db import migrations, models
from django.db.models.functions import Length


def delete_overlong_tokens(apps, schema_editor):
    # No push service issues tokens this long; the column cannot hold them any more.
    DeviceToken = apps.get_model("scheduler", "DeviceToken")
    DeviceToken.objects.annotate(length=Length("token")).filter(length__gt=2048).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("scheduler", "0003_coordinator_group"),
    ]

    operations = [
        migrations.RunPython(delete_overlong_tokens, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="devicetoken",
            name="token",
            field=models.CharField(
                max_length=2048,
                unique=True,
                validators=[
                    django.core.validators.MinLengthValidator(8),
                    django.core.validators.RegexValidator(
                        "\\A[\\x21-\\x7e]*\\Z",
                        "A device token is plain ASCII, without spaces or control characters.",
                        code="token_characters",
                    ),
                ],
                verbose_name="token",
            ),
        ),
    ]
