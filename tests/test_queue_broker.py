"""The broker takes a task only while a worker of its cluster is free (scheduler/queue_broker.py)."""

from __future__ import annotations

import os
import subprocess

from scheduler.queue_broker import WorkerSlots


def test_it_has_room_only_while_a_worker_is_free() -> None:
    slots = WorkerSlots(2)
    slots.hand_over(1)
    assert slots.has_room()  # one task waits for a worker, the other worker is free
    slots.hand_over(1)
    assert not slots.has_room()  # both waiting tasks are spoken for
    slots.start(os.getpid())
    slots.start(os.getppid())
    assert not slots.has_room()
    slots.end(os.getpid())
    assert slots.has_room()


def test_it_frees_the_slot_of_a_worker_that_was_killed_mid_task() -> None:
    slots = WorkerSlots(1)
    worker = subprocess.Popen(["sleep", "30"])
    slots.hand_over(1)
    slots.start(worker.pid)
    assert not slots.has_room()
    worker.kill()
    worker.wait()
    assert slots.has_room()
