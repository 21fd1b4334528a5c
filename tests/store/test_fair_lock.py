"""The process's SQLite writer lock grants turns in the order they were asked for, gives up
after a timeout without losing anyone's turn, and is a no-op on PostgreSQL."""

from __future__ import annotations

import threading
import time

from bot.store.dialect import FairLock


def _queue_up(lock: FairLock, count: int, order: list[int]) -> list[threading.Thread]:
    """`count` threads that ask for `lock` one after another (each is waiting before the next
    starts) and note their number when they get it."""
    threads = []
    for number in range(count):
        def take(number: int = number) -> None:
            with lock:
                order.append(number)
        thread = threading.Thread(target=take)
        thread.start()
        deadline = time.monotonic() + 5
        while len(lock._waiters) < number + 1 and time.monotonic() < deadline:
            time.sleep(0.001)
        threads.append(thread)
    return threads


def test_waiters_get_the_lock_in_the_order_they_asked():
    lock = FairLock()
    order: list[int] = []
    lock.acquire()
    threads = _queue_up(lock, 8, order)
    # The releasing thread asks again at once: with threading.Lock it could jump the queue.
    lock.release()
    lock.acquire()
    order.append(-1)
    lock.release()
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2, 3, 4, 5, 6, 7, -1]


def test_a_timed_out_wait_leaves_the_queue_and_the_lock_still_works():
    lock = FairLock()
    lock.acquire()
    started = time.monotonic()
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(lock.acquire(timeout=0.2)))
    waiter.start()
    waiter.join(5)
    assert got == [False] and 0.2 <= time.monotonic() - started < 3
    assert not lock._waiters
    assert lock.acquire(blocking=False) is False  # still held by us
    lock.release()
    assert lock.acquire(blocking=False) is True
    lock.release()


def test_many_threads_never_hold_it_together():
    lock = FairLock()
    inside = 0
    overlaps = 0

    def work() -> None:
        nonlocal inside, overlaps
        for _ in range(200):
            with lock:
                inside += 1
                if inside > 1:
                    overlaps += 1
                time.sleep(0)
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert overlaps == 0 and inside == 0
