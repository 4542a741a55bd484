"""Run searches off the kernel's main thread; the newest request always wins."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ..core._search import SearchCancelled

logger = logging.getLogger(__name__)

Request = TypeVar("Request")


class LatestWins(Generic[Request]):
    """A single worker thread that runs only the newest request.

    ``submit`` returns at once. A request submitted while another runs makes
    the running one stale: its ``cancelled()`` turns true, the search stops at
    its next step, and its result is dropped. Results are delivered to
    ``on_result`` (or errors to ``on_error``) from the worker thread, only for
    the newest request.

    Parameters
    ----------
    work : callable
        ``work(request, cancelled)`` computes a result; it should check
        ``cancelled()`` often and raise ``SearchCancelled`` when it is true.
    on_result, on_error : callable
        Receive ``(request, result)`` and ``(request, exception)``.
    on_busy : callable
        Receives True when work starts and False when the worker is idle.
    idle_seconds : float
        The thread ends after this long without a request, and starts again
        on the next one, so that forgotten panels hold no thread.
    """

    def __init__(
        self,
        work: Callable[[Request, Callable[[], bool]], Any],
        on_result: Callable[[Request, Any], None],
        on_error: Callable[[Request, BaseException], None],
        on_busy: Callable[[bool], None] = lambda busy: None,
        idle_seconds: float = 60.0,
    ) -> None:
        self._work = work
        self._on_result = on_result
        self._on_error = on_error
        self._on_busy = on_busy
        self._condition = threading.Condition()
        self._pending: tuple[int, Request] | None = None
        self._generation = 0
        self._delivered = 0
        self._running = False
        self._closed = False
        self._idle_seconds = idle_seconds
        self._thread: threading.Thread | None = None

    def submit(self, request: Request) -> int:
        """Queue ``request``, superseding anything older; returns its number.

        After ``close`` nothing is queued and 0 is returned.
        """
        with self._condition:
            if self._closed:
                return 0
            self._generation += 1
            self._pending = (self._generation, request)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="deepaid-search", daemon=True
                )
                self._thread.start()
            self._condition.notify_all()
            return self._generation

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the newest request has been delivered; False on timeout."""
        with self._condition:
            return self._condition.wait_for(
                lambda: (
                    (self._closed and not self._running)
                    or (self._delivered == self._generation and not self._running)
                ),
                timeout,
            )

    @property
    def busy(self) -> bool:
        with self._condition:
            return self._running or self._pending is not None

    def close(self) -> None:
        """Stop the worker after the current request; later submits are ignored."""
        with self._condition:
            self._closed = True
            self._pending = None
            self._condition.notify_all()

    @property
    def closed(self) -> bool:
        with self._condition:
            return self._closed

    @property
    def alive(self) -> bool:
        """Whether a worker thread exists now."""
        with self._condition:
            return self._thread is not None

    def _loop(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(
                    lambda: self._pending is not None or self._closed,
                    self._idle_seconds,
                )
                if self._closed or self._pending is None:
                    self._thread = None
                    self._condition.notify_all()
                    return
                generation, request = self._pending  # type: ignore[misc]
                self._pending = None
                self._running = True
            self._on_busy(True)
            self._run(generation, request)
            with self._condition:
                self._running = False
                idle = self._pending is None
                self._condition.notify_all()
            if idle:
                self._on_busy(False)

    def _run(self, generation: int, request: Request) -> None:
        def stale() -> bool:
            return generation != self._generation or self._closed

        try:
            result = self._work(request, stale)
        except SearchCancelled:
            logger.debug("request %d superseded", generation)
            return
        except Exception as error:
            outcome: tuple[bool, Any] = (False, error)
        else:
            outcome = (True, result)

        # Deliver under the lock so that a newer request cannot be delivered
        # first and then be overwritten by this older one.
        with self._condition:
            if stale():
                return
            try:
                if outcome[0]:
                    self._on_result(request, outcome[1])
                else:
                    self._on_error(request, outcome[1])
            except Exception:
                logger.exception("publishing a result failed")
            self._delivered = generation
            self._condition.notify_all()
