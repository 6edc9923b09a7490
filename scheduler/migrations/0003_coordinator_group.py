"""The "Coordinator" group: exactly what a chapter coordinator needs in the admin.

Scenarios: view, add, change (no delete: disabling keeps the delivery log whole).
Peer mentors: view, change (pause or deactivate). Activities, device tokens,
prompt history, dispatch runs: view only. Plus starting a dispatch run by hand.
Which rows they see is decided by their chapters (scheduler.access), not here.
"""

from __future__ import annotations

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP_NAME = "Coordinator"
PERMISSIONS = [
    "view_scenario",
    "add_scenario",
    "change_scenario",
    "view_peermentor",
    "change_peermentor",
    "view_activity",
    "view_devicetoken",
    "view_prompthistory",
    "view_dispatchrun",
    "run_dispatch_now",
]


def create_group(apps, schema_editor) -> None:
    # Permissions are normally created after all migrations; make sure they exist now.
    app_config = apps.get_app_config("scheduler")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None

    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP_NAME)
    permissions = Permission.objects.filter(
        content_type__app_label="scheduler", codename__in=PERMISSIONS
    )
    missing = set(PERMISSIONS) - set(permissions.values_list("codename", flat=True))
    if missing:
        raise RuntimeError(f"permissions missing for the Coordinator group: {sorted(missing)}")
    group.permissions.set(permissions)


def remove_group(apps, schema_editor) -> None:
    apps.get_model("auth", "Group").objects.filter(name=GROUP_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("scheduler", "0002_dispatch_schedule"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
