# SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
"""The standard ``queue`` module's Queue over /dev/mpsc.

A program written for ``queue.Queue`` runs with one line changed::

    from mpsc import queue      # was: import queue

    q = queue.Queue()           # queue.Queue(maxsize) is bounded, as before
    q.put(item)
    item = q.get(timeout=1.0)   # queue.Empty on timeout
    q.task_done(); q.join()

Each Queue is one mpsc channel holding both ends, so its items travel
through the kernel (pickled, by default) and keep the channel's order and
limits.  What differs from the standard module:

- items must pickle (or pass ``codec=`` to carry bytes or str as they are),
  and each one must fit in the channel's max_msg_size once encoded
  (``MessageTooLarge``, a ValueError, otherwise);
- ``get()`` takes items one at a time from the kernel: many consumer
  threads work, but the channel's single-consumer design means they take
  turns;
- ``task_done()`` and ``join()`` count the items put and got in this
  process only; to share work between processes, pickle a channel's
  handles (``mpsc.channel()``) instead;
- ``Queue(0)`` is unbounded, as in the standard module; use
  ``mpsc.sync_channel(0)`` for a rendezvous.  ``LifoQueue`` and
  ``PriorityQueue`` are not provided: a channel is first in, first out.
"""

from __future__ import annotations

import threading
from typing import Any, Generic, Optional, TypeVar

from . import (PICKLE, Codec, Empty, Full, Receiver, Sender, channel,
               sync_channel)

__all__ = ["Queue", "SimpleQueue", "Empty", "Full"]

T = TypeVar("T")


class Queue(Generic[T]):
    """queue.Queue(maxsize): FIFO, bounded when ``maxsize`` > 0."""

    def __init__(self, maxsize: int = 0, *,
                 codec: Codec[Any] = PICKLE) -> None:
        self.maxsize = maxsize
        self._tx: Sender[T]
        self._rx: Receiver[T]
        if maxsize > 0:
            self._tx, self._rx = sync_channel(maxsize, codec=codec)
        else:
            self._tx, self._rx = channel(codec=codec)
        self._done = threading.Condition()
        self._unfinished = 0

    def put(self, item: T, block: bool = True,
            timeout: Optional[float] = None) -> None:
        """Put an item, waiting for a free slot if the queue is bounded
        (at most ``timeout`` seconds; not at all without ``block``); Full
        when there was none."""
        with self._done:
            self._unfinished += 1
        try:
            self._tx.put(item, block, timeout)
        except BaseException:
            with self._done:
                self._unfinished -= 1
            raise

    def put_nowait(self, item: T) -> None:
        self.put(item, block=False)

    def get(self, block: bool = True, timeout: Optional[float] = None) -> T:
        """Remove and return an item, waiting for one (at most ``timeout``
        seconds; not at all without ``block``); Empty when there was
        none."""
        return self._rx.get(block, timeout)

    def get_nowait(self) -> T:
        return self.get(block=False)

    def task_done(self) -> None:
        """A task taken with get() is complete (for join())."""
        with self._done:
            if self._unfinished <= 0:
                raise ValueError("task_done() called too many times")
            self._unfinished -= 1
            if not self._unfinished:
                self._done.notify_all()

    def join(self) -> None:
        """Wait until every item put has been got and marked task_done()."""
        with self._done:
            while self._unfinished:
                self._done.wait()

    def qsize(self) -> int:
        return self._rx.qsize()

    def empty(self) -> bool:
        return self._rx.empty()

    def full(self) -> bool:
        return self.maxsize > 0 and self.qsize() >= self.maxsize

    def close(self) -> None:
        """Release both fds (the standard Queue has nothing to release)."""
        self._tx.close()
        self._rx.close()

    def __repr__(self) -> str:
        return "<mpsc.queue.Queue maxsize=%d rx=%r>" % (self.maxsize,
                                                         self._rx)


class SimpleQueue(Queue[T]):
    """queue.SimpleQueue: an unbounded FIFO."""

    def __init__(self, *, codec: Codec[Any] = PICKLE) -> None:
        super().__init__(0, codec=codec)
