from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.test import Client
from django.utils import translation

from scheduler.models import Chapter, Coordinator
from tests import factories

PASSWORD = "a-long-test-password"
# What the escalation migration adds to the Coordinator group.
ESCALATION_PERMISSIONS = ["view_escalation", "change_escalation"]


@dataclass
class World:
    home: Chapter
    other: Chapter


@pytest.fixture(autouse=True)
def english() -> None:
    """Most admin tests read English words; the Norwegian tests switch explicitly."""
    with translation.override("en"):
        yield


@pytest.fixture
def world(db: None) -> World:
    return World(home=factories.chapter("Oslo"), other=factories.chapter("Bergen"))


def coordinator_group() -> Group:
    """The group migration 0003 creates (recreated after a transactional test's flush)."""
    migration = importlib.import_module("scheduler.migrations.0003_coordinator_group")
    working_days = importlib.import_module("scheduler.migrations.0010_working_days")
    group, created = Group.objects.get_or_create(name=migration.GROUP_NAME)
    if created:
        group.permissions.set(
            Permission.objects.filter(
                content_type__app_label="scheduler",
                codename__in=[
                    *migration.PERMISSIONS,
                    *working_days.PERMISSIONS,
                    *ESCALATION_PERMISSIONS,
                ],
            )
        )
    return group


def make_coordinator(username: str, *chapters: Chapter) -> User:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(coordinator_group())
    coordinator = Coordinator.objects.create(user=user)
    coordinator.chapters.set(chapters)
    return user


@pytest.fixture
def coordinator(world: World) -> User:
    return make_coordinator("kari", world.home)


@pytest.fixture
def coordinator_client(coordinator: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(coordinator)
    return client


@pytest.fixture
def superuser_client(db: None) -> Client:
    user = User.objects.create_superuser("root", "root@example.org", PASSWORD)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


@pytest.fixture
def outside_the_bounds(db: None) -> Iterator[None]:
    """Lets a test write activities the bounds constraint refuses, as in a database
    written before it, to show that the pages survive them all the same."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Inside the test's transaction: its rollback brings the constraint back.
            cursor.execute(
                "ALTER TABLE scheduler_activity DROP CONSTRAINT activity_occurred_at_bounds"
            )
        else:
            cursor.execute("PRAGMA ignore_check_constraints = ON")
    yield
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA ignore_check_constraints = OFF")
