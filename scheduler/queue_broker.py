"""django-q2's ORM broker, taking a task only when one of this cluster's workers is free.

Stock django-q2 pulls tasks into a cluster's own in-memory queue even while
every worker of that cluster is busy. With several clusters on one database,
an admin's "run now" could wait there behind a long run while another
cluster stands idle. This broker pulls a task only while this cluster has a
worker with nothing to do, so a task waits in the database, where whichever
cluster is free takes it (the ORM broker's compare-and-set on the row's lock
hands it to one of them only).

The count is kept in shared memory created in the cluster's sentinel, before
it forks the pusher and the workers: the workers note the task they start and
end (django-q2's signals), the pusher what it handed over. A worker killed
mid-task is not counted as busy any more (its process is gone).
"""

from __future__ import annotations

import os
from multiprocessing import Array, Value
from time import sleep
from typing import Any

from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.signals import post_execute_in_worker, pre_execute


class WorkerSlots:
    """How many of this cluster's workers are busy or have a task waiting for them."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.busy_pids = Array("i", workers)  # 0: a free slot
        self.handed = Value("i", 0)  # tasks the pusher put in the cluster's queue
        self.taken = Value("i", 0)  # tasks a worker took from that queue

    def has_room(self) -> bool:
        with self.handed.get_lock():
            waiting = self.handed.value - self.taken.value
        return waiting + self.running() < self.workers

    def running(self) -> int:
        return sum(1 for pid in self.busy_pids[:] if pid and _alive(pid))

    def hand_over(self, count: int) -> None:
        with self.handed.get_lock():
            self.handed.value += count

    def start(self, pid: int) -> None:
        with self.handed.get_lock():
            self.taken.value += 1
        with self.busy_pids.get_lock():
            slots = self.busy_pids[:]
            free = next((i for i, p in enumerate(slots) if not p or not _alive(p)), None)
            if free is not None:
                self.busy_pids[free] = pid

    def end(self, pid: int) -> None:
        with self.busy_pids.get_lock():
            for i, busy in enumerate(self.busy_pids[:]):
                if busy == pid:
                    self.busy_pids[i] = 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process took the number
        return False
    return True


_slots: WorkerSlots | None = None


class FreeWorkerORM(ORM):
    def __init__(self, list_key: str | None = None) -> None:
        super().__init__(list_key=list_key)
        global _slots
        if _slots is None:
            _slots = WorkerSlots(int(Conf.WORKERS))

    def dequeue(self) -> list[tuple[Any, Any]] | None:
        if _slots is not None and not _slots.has_room():
            sleep(Conf.POLL)
            return None
        tasks = super().dequeue()
        if tasks and _slots is not None:
            _slots.hand_over(len(tasks))
        return tasks


def _task_started(sender: object, **kwargs: Any) -> None:
    if _slots is not None:
        _slots.start(os.getpid())


def _task_ended(sender: object, **kwargs: Any) -> None:
    if _slots is not None:
        _slots.end(os.getpid())


pre_execute.connect(_task_started, dispatch_uid="scheduler.queue_broker.started")
post_execute_in_worker.connect(_task_ended, dispatch_uid="scheduler.queue_broker.ended")
