"""A push backend that commits on another SQLite connection on every send.

Stands in for the web server and the cluster writing while a run is going.
"""

from __future__ import annotations

import sqlite3

from django.conf import settings

from scheduler.push import PushMessage, SendOutcome
from scheduler.push.locmem import LocmemBackend


class ConcurrentWriterBackend(LocmemBackend):
    def send(self, message: PushMessage) -> SendOutcome:
        with sqlite3.connect(settings.DATABASES["default"]["NAME"], timeout=30) as other:
            other.execute("UPDATE scheduler_chapter SET name = name")
        return super().send(message)
