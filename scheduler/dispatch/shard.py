"""A shard of a run: the mentors whose id % count == index (DISPATCH_SHARDS, `--shard i/K`).

Shards split the mentors, not the prompts: every prompt of a mentor, and so
the mentor's daily cap, belongs to one shard. The condition is part of each
query (set-based), so a shard reads only its own mentors' rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F
from django.db.models.functions import Mod
from django.db.models.lookups import Exact


@dataclass(frozen=True)
class Shard:
    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(
                f"shard {self.index}/{self.count}: the count must be at least 1 and the "
                "index from 0 to count - 1"
            )

    @classmethod
    def parse(cls, text: str) -> Shard:
        """`i/K`, e.g. `0/2`; a ValueError that says what is wrong otherwise."""
        index, slash, count = text.strip().partition("/")
        if not slash or not index.strip().isdigit() or not count.strip().isdigit():
            raise ValueError(f"{text!r} is not a shard: write it as i/K, e.g. 0/2")
        return cls(int(index), int(count))

    @property
    def is_whole(self) -> bool:
        return self.count == 1

    def where(self, field: str = "peer_mentor_id") -> Exact | None:
        """The filter `field % count = index`, or None for the whole (one shard)."""
        if self.is_whole:
            return None
        return Exact(Mod(F(field), self.count), self.index)

    def covers(self, mentor_id: int) -> bool:
        return mentor_id % self.count == self.index

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


WHOLE = Shard(0, 1)
