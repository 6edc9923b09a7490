"""Django's database cache, with an `incr` that several processes cannot undercount.

Django's own `incr` reads the value and then sets it: two requests at once both
read 4 and both write 5, and its `set` moves the key's expiry as well. Here the
row is locked first (`SELECT ... FOR UPDATE`; SQLite's IMMEDIATE transactions
already serialise writers) and only the value is written. `API_THROTTLE_CACHE_URL`
with `dbcache://` selects this class.
"""

from __future__ import annotations

import base64
import pickle
from typing import Any

from django.core.cache.backends.db import DatabaseCache as DjangoDatabaseCache
from django.db import connections, router, transaction

_MISSING = object()


class DatabaseCache(DjangoDatabaseCache):
    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> Any:
        alias = router.db_for_write(self.cache_model_class)
        connection = connections[alias]
        quote = connection.ops.quote_name
        table = quote(self.cache_model_class._meta.db_table)
        cache_key_column = quote("cache_key")
        cache_key = self.make_and_validate_key(key, version=version)
        with transaction.atomic(using=alias), connection.cursor() as cursor:
            if connection.features.has_select_for_update:
                cursor.execute(
                    f"SELECT 1 FROM {table} WHERE {cache_key_column} = %s FOR UPDATE", [cache_key]
                )
            value = self.get(key, _MISSING, version=version)
            if value is _MISSING:
                raise ValueError(f"Key {key!r} not found")
            new_value = value + delta
            cursor.execute(
                f"UPDATE {table} SET {quote('value')} = %s WHERE {cache_key_column} = %s",
                [self.encode(new_value), cache_key],
            )
        return new_value

    def encode(self, value: Any) -> str:
        # As Django's database cache stores a value.
        return base64.b64encode(pickle.dumps(value, self.pickle_protocol)).decode("latin1")
