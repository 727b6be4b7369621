"""Taking turns: at most a few visitors' requests compute at once, the others wait in the order they came.

A Streamlit server runs every visitor's script in a thread of one Python process. Forty threads that all want
the interpreter at once do not finish sooner than forty that take turns: they finish *later*, all together. The
interpreter lock is handed round every 5 ms, so each run advances a fortieth as fast, every visitor waits for
the slowest, and the server's own event loop, which sends the pages and answers the browsers' keep-alive pings,
waits in the same crowd (measured in ``bench/load.py``: pings unanswered for 20 s, the whole class's first
heatmaps arriving together after 25 s). With turns, a request that has begun is finished first: the first
visitors see their translation in a fraction of a second, the last ones no later than before, and the event loop
only competes with the few runs that hold a turn.

An animation gives its turn back while the browser plays it (:meth:`Turns.set_aside`), and queues again to draw
the finished page, so a class's animations overlap instead of holding everyone up for their whole length.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from contextlib import contextmanager


class Turns:
    """A first-come, first-served semaphore with ``size`` turns (a thread may hold one turn; nested calls share it)."""

    def __init__(self, size: int):
        if size < 1:
            raise ValueError(f"at least one turn, not {size}")
        self.size = size
        self._lock = threading.Lock()
        self._queue: deque[threading.Event] = deque()
        self._busy = 0
        self._held = threading.local()

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def holding(self) -> bool:
        """Whether the calling thread holds a turn."""
        return getattr(self._held, "depth", 0) > 0

    def _acquire(self) -> None:
        with self._lock:
            if self._busy < self.size and not self._queue:
                self._busy += 1
                return
            mine = threading.Event()
            self._queue.append(mine)
        mine.wait()                   # the thread giving its turn back hands it to us (``_busy`` unchanged)

    def _release(self) -> None:
        with self._lock:
            if self._queue:
                self._queue.popleft().set()
            else:
                self._busy -= 1

    @contextmanager
    def turn(self):
        """Hold a turn for the ``with`` block (re-entrant: an inner ``turn`` in the same thread costs nothing)."""
        depth = getattr(self._held, "depth", 0)
        if depth == 0:
            self._acquire()
        self._held.depth = depth + 1
        try:
            yield
        finally:
            self._held.depth = depth
            if depth == 0:
                self._release()

    @contextmanager
    def set_aside(self):
        """Give this thread's turn back for the ``with`` block (a wait that needs no interpreter), then queue for
        one again; nothing to give back for a thread that holds none."""
        depth = getattr(self._held, "depth", 0)
        if depth == 0:
            yield
            return
        self._release()
        self._held.depth = 0                 # while it is set aside, the thread holds none (a pause inside sleeps)
        try:
            yield
        finally:
            self._acquire()
            self._held.depth = depth

    def pause(self, seconds: float) -> None:
        """Sleep without holding a turn, then queue for one again (a plain sleep for a thread that holds none)."""
        with self.set_aside():
            time.sleep(seconds)
