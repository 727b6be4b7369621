"""Decoding the requests that arrive together in one batch: how a server answers a class.

One beam search step multiplies the decoder states by the output layer, a (vocabulary × hidden) matrix (the
default model has two: 8,171 × 256 floats each, 16 MB). For one sentence at beam 5 that is five rows against
the whole matrix, and the step's fixed costs (the Python of the search, launching each operation) are paid for
five rows too. Sixteen sentences decoded together share both: each costs a quarter as much (94 ms a sentence
alone, 22 ms in batches of 16: beam 5, the default model, one thread). Results are the same as one at a time
(``tests/test_batching.py``).

A request never waits for a batch to fill. The first one to arrive while the model is idle waits at most
``window_s`` (10 ms, a tenth of one decoding) for requests arriving with it, and the requests that arrive while a
batch runs make up the next batch ("continuous" batching, as serving systems for large models do it, one level
coarser: per request, not per step). Requests are grouped by their decoding options, which a batch shares.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

from .translator import Translation, Translator


@dataclass(eq=False)
class _Request:
    text: str
    options: tuple                                   # sorted (name, value) pairs: the batch's key
    result: Translation | None = None
    error: BaseException | None = None
    done: bool = field(default=False)


class Batcher:
    """Translate through ``translator`` in batches of up to ``max_batch`` requests of the same options.

    Thread-safe: call :meth:`translate` from as many request threads as the server has. The thread whose
    request comes first while nothing runs decodes the batch (no extra thread); the others wait for it.
    """

    MAX_BATCH = 40                                   # a class's requests fit one batch (bench/README.md)

    def __init__(self, translator: Translator, *, max_batch: int = MAX_BATCH, window_s: float = 0.01):
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, not {max_batch}")
        self.translator = translator
        self.max_batch = max_batch
        self.window_s = window_s
        self.batches: deque[int] = deque(maxlen=1000)   # the sizes of the last batches (for the bench and tests)
        self._pending: list[_Request] = []
        self._running = False
        self._changed = threading.Condition()

    def translate(self, text: str, **options) -> Translation:
        """What ``translator.translate(text, **options)`` returns (a Transformer's heads included)."""
        request = _Request(text, tuple(sorted(options.items())))
        with self._changed:
            self._pending.append(request)
            self._changed.notify_all()               # a leader waiting for company
            while self._running and not request.done:
                self._changed.wait()
            if not request.done:
                self._running = True                 # nobody is decoding: this thread leads
        if not request.done:
            self._lead(request)
        if request.error is not None:
            raise request.error
        return request.result

    def _lead(self, mine: _Request) -> None:
        """Decode batches (the oldest request's options first) until this thread's own request is done."""
        try:
            while not mine.done:
                with self._changed:
                    if len(self._pending) < self.max_batch:          # a moment for the others to join
                        deadline = time.monotonic() + self.window_s
                        while len(self._pending) < self.max_batch and time.monotonic() < deadline:
                            self._changed.wait(deadline - time.monotonic())
                    key = self._pending[0].options
                    batch = [r for r in self._pending if r.options == key][:self.max_batch]
                    self._pending = [r for r in self._pending if r not in batch]
                self._decode(batch, dict(key))
                with self._changed:
                    self._changed.notify_all()
        finally:
            with self._changed:
                self._running = False
                self._changed.notify_all()           # a waiting request takes the lead for what is left

    def _decode(self, batch: list[_Request], options: dict) -> None:
        self.batches.append(len(batch))
        try:
            results: list = self.translator.translate_batch([r.text for r in batch], attention_maps=True, **options)
        except Exception as error:
            if len(batch) > 1:                       # one bad sentence must not fail the others: each alone
                for request in batch:
                    self._decode([request], options)
                return
            results = [error]                        # raised in the request's own thread
        except BaseException as error:               # the process is stopping: nobody waits for ever
            for request in batch:
                request.error, request.done = error, True
            raise
        for request, result in zip(batch, results):
            if isinstance(result, Exception):
                request.error = result
            else:
                request.result = result
            request.done = True
