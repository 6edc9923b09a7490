"""A database trigger that spoils every run's lease renewal: refuses it, or holds it.

Only a renewal (the expiry of a run still going moving forward) is spoiled;
creating a run and ending it (which sets its expiry to the end) go through.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection

REFUSE = "RAISE EXCEPTION 'lease renewal refused'"
HOLD = "PERFORM pg_sleep(8)"  # far past a test's lease; PostgreSQL only

POSTGRES_TRIGGER = """
CREATE FUNCTION spoil_lease_renewal() RETURNS trigger AS $$
BEGIN
    IF NEW.lease_expires_at > OLD.lease_expires_at AND NEW.finished_at IS NULL THEN
        %s;
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER spoil_lease_renewal BEFORE UPDATE ON scheduler_dispatchrun
    FOR EACH ROW EXECUTE FUNCTION spoil_lease_renewal();
"""
SQLITE_REFUSAL = """
CREATE TRIGGER spoil_lease_renewal BEFORE UPDATE ON scheduler_dispatchrun
WHEN NEW.lease_expires_at > OLD.lease_expires_at AND NEW.finished_at IS NULL
BEGIN SELECT RAISE(ABORT, 'lease renewal refused'); END
"""


def spoil_renewals(action: str = REFUSE) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(POSTGRES_TRIGGER % action)
        elif action == REFUSE:
            cursor.execute(SQLITE_REFUSAL)
        else:
            raise ValueError(f"{connection.vendor} can only refuse a renewal")


def allow_renewals() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP TRIGGER IF EXISTS spoil_lease_renewal ON scheduler_dispatchrun")
            cursor.execute("DROP FUNCTION IF EXISTS spoil_lease_renewal()")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS spoil_lease_renewal")


@contextmanager
def renewals_spoiled(action: str = REFUSE) -> Iterator[None]:
    """Every renewal is spoiled inside, or until `allow_renewals()`."""
    spoil_renewals(action)
    try:
        yield
    finally:
        allow_renewals()
