from __future__ import annotations

import importlib
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from django.utils import translation

from scheduler.models import Chapter, Coordinator
from tests import factories

PASSWORD = "a-long-test-password"


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
    group, created = Group.objects.get_or_create(name=migration.GROUP_NAME)
    if created:
        group.permissions.set(
            Permission.objects.filter(
                content_type__app_label="scheduler", codename__in=migration.PERMISSIONS
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
