"""Django's PostgreSQL backend, with a pool that recovers at once from a database restart.

When the database restarts or fails over, every idle connection in the pool
is dead. Unchecked, the pool hands them out one by one, each costing a request
its answer; psycopg's own check on checkout (`CONN_HEALTH_CHECKS`) waits 1, 2,
4 … seconds between dead connections, so a pool of a few idle ones outlasts
its 30 s timeout. Here a connection is checked as it leaves the pool, and the
first dead one drains the pool: the other idle connections, dead with it, are
replaced at once.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool

logger = logging.getLogger(__name__)


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: Any) -> Any:
        connection = super().get_new_connection(conn_params)
        pool = self.pool
        if pool is None or is_alive(connection):
            return connection
        logger.warning("the database dropped a pooled connection; replacing the idle ones")
        pool.putconn(connection)  # broken: the pool discards it
        pool.drain()
        return super().get_new_connection(conn_params)


def is_alive(connection: psycopg.Connection[Any]) -> bool:
    try:
        ConnectionPool.check_connection(connection)  # an empty query, one round trip
    except psycopg.Error:
        return False
    return True
