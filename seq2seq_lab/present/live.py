"""Live decoding: the frames the heatmap grows through, and what one translation leaves behind.

While the model decodes, :class:`LiveDecoding` yields one :class:`Frame` per step: the
hypothesis leading at that step (with beam search the leader can change, so a frame's
rows are the attention along *its* path), the token it just wrote and the alternatives
the model weighed. A frame carries every cross-attention head's rows too (a Transformer's
layers × heads), so it can be drawn for any head (:mod:`.heads`). Once decoding ends,
:func:`final_frames` gives the frames along the final translation, which the apps let a class
scrub through step by step.

Finished decodings are kept in small bounded caches shared by every visitor
(:func:`decode` and :func:`translate`): a class that clicks the same example, or a
setting that is switched back, costs nothing the second time. The cached objects are
shared, so nothing here or in the apps may change them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from ..options import check_options
from ..search import PRUNED, Node, Step
from ..translator import Translation
from .catalogue import OpenModel

SPEEDS = {"slow": 0.8, "normal": 0.35, "fast": 0.1, "instant": 0.0}   # seconds between two frames
COMPARE_BEAM = 5                   # the beam shown against greedy when the visitor decodes greedily


@dataclass(frozen=True)
class Frame:
    """The picture after one decoding step."""

    step: int                      # 1-based
    tokens: list[str]              # the output so far, ending with the token of this step
    attention: np.ndarray | None   # (step, S) the attention rows along this output; None without attention
    alternatives: list             # search.Alternative: the model's top next tokens at this step
    prob: float                    # p(token | the output before it)
    heads: np.ndarray | None = None  # (step, layers, heads, S) every cross-attention head's rows; (step, 1, 1, S)
    #                                  for an RNN; None without attention. ``attention`` is their summary

    @property
    def token(self) -> str:
        return self.tokens[-1]


def path_to(node: Node, nodes_by_id: dict[int, Node]) -> list[Node]:
    """The nodes from the first output token down to ``node`` (the root <s> excluded)."""
    path = []
    while node is not None:
        path.append(node)
        node = nodes_by_id.get(node.parent)
    return path[::-1]


def leading_node(step: Step) -> Node:
    """The hypothesis ahead after ``step``: highest log-probability among those not pruned."""
    kept = [n for n in step.nodes if n.status != PRUNED] or list(step.nodes)
    return max(kept, key=lambda n: n.log_prob)


def frame_of(path: list[Node]) -> Frame:
    last = path[-1]
    attention = None if last.attention is None else np.stack([n.attention for n in path])             # (step, S)
    heads = None if last.attention_heads is None else np.stack([n.attention_heads for n in path])  # (step, L, h, S)
    return Frame(len(path), list(last.tokens), attention, list(last.alternatives), float(last.token_prob), heads)


def final_path(steps: list[Step], tokens: list[str]) -> list[Node]:
    """The search-tree nodes that produced ``tokens`` (a finished translation), one per step; [] if none."""
    nodes = [n for step in steps for n in step.nodes]
    by_id = {n.id: n for n in nodes}
    ending = [n for n in reversed(nodes) if list(n.tokens) == list(tokens) and n.status != PRUNED]
    end = next((n for n in ending if n.status == "finished"), ending[0] if ending else None)  # or cut off by max_len
    return path_to(end, by_id) if end is not None else []


def final_frames(steps: list[Step], final: Translation) -> list[Frame]:
    """One frame per token of the final best translation, along the search-tree path that produced it. Every
    head's rows come from the path's nodes (what each step computed), so no second pass is needed."""
    best = final.best
    path = final_path(steps, best.tokens)
    heads = best.attention_heads
    if heads is None and len(path) == len(best.tokens) and all(n.attention_heads is not None for n in path):
        heads = np.stack([n.attention_heads for n in path])                                  # (T, L, h, S)
    frames = []
    for i in range(len(best.tokens)):
        node = path[i] if i < len(path) else None
        frames.append(Frame(i + 1, list(best.tokens[:i + 1]),
                            None if best.attention is None else best.attention[:i + 1],
                            node.alternatives if node is not None else [],
                            float(node.token_prob) if node is not None else float("nan"),
                            None if heads is None else heads[:i + 1]))
    return frames


def request_key(options: dict) -> tuple:
    """Options as a hashable, order-independent key."""
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items()))


def result_key(model: OpenModel, text: str, checked: dict) -> tuple:
    """What a finished decoding is cached under (:data:`RESULTS`, :data:`TRANSLATIONS`): the model file's version,
    the text, the checked options."""
    return model.version, text, request_key(checked)


@dataclass
class Result:
    """What one translation leaves in a visitor's session."""

    model_key: str
    version: tuple                 # OpenModel.version: file, mtime, device
    text: str
    options: dict                  # checked decoding options
    steps: list[Step]              # the search as it happened, one record per step
    final: Translation
    frames: list[Frame] = field(default_factory=list)   # along the final translation
    style: str = "english"         # how the model's output tokens are joined (ModelConfig.tgt_detok)

    @property
    def request(self) -> tuple:
        return (self.model_key, self.version, self.text, request_key(self.options))

    def is_for(self, model: OpenModel, text: str, options: dict) -> bool:
        return self.request == (model.key, model.version, text, request_key(check_options(**options)))


class LiveDecoding:
    """Iterate to decode step by step (one :class:`Frame` per step); then ``.result`` holds the whole run.

    A request some visitor has decoded before (:data:`RESULTS`) is replayed from its step records rather than
    decoded again: the frames are the same, the model does no work (a class pressing Translate on the same
    example costs one decoding). A new one is decoded live and then joins the cache.

    >>> live = LiveDecoding(model, "我爱学习", {"beam_size": 5})      # doctest: +SKIP
    >>> for frame in live: draw(frame)                                # doctest: +SKIP
    >>> live.result.final.best.text                                    # doctest: +SKIP
    """

    def __init__(self, model: OpenModel, text: str, options: dict):
        self.model = model
        self.options = check_options(**options)
        self.analysis = model.translator.analyze(text)      # bad input raises here, before any drawing
        self.text = text
        self.result: Result | None = None
        self.replayed = False                               # True once the frames came from the cache

    @property
    def src_tokens(self) -> list[str]:
        return self.analysis.src_tokens

    @property
    def key(self) -> tuple:
        return result_key(self.model, self.text, self.options)

    def __iter__(self) -> Iterator[Frame]:
        cached = RESULTS.peek(self.key)
        self.replayed = cached is not None
        steps: list[Step] = []
        by_id: dict[int, Node] = {}
        searched = cached.steps if cached is not None else self.model.translator.steps(
            self.text, attention_maps=False, **self.options)           # the maps on demand: attention_maps()
        for step in searched:
            steps.append(step)
            by_id.update((n.id, n) for n in step.nodes)
            yield frame_of(path_to(leading_node(step), by_id))
        if cached is not None:
            self.result = cached
            return
        final = steps[-1].final
        self.result = RESULTS.get(self.key, lambda: Result(
            self.model.key, self.model.version, self.text, self.options, steps, final, final_frames(steps, final),
            self.model.translator.config.tgt_detok))


# --- bounded caches shared by every visitor --------------------------------------------------

class LRU:
    """A small thread-safe least-recently-used cache."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key, compute: Callable[[], object]):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = compute()                                   # outside the lock: other visitors keep going
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def peek(self, key):
        """The value under ``key`` (now the most recently used), or None; computes nothing."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


RESULTS = LRU(64)                  # a Result holds every step's records: tens of kB to a few MB
TRANSLATIONS = LRU(256)            # a Translation holds the n-best list only
MAPS = LRU(64)                     # the best candidate's every-head maps: (L, h, n, n) arrays, tens of kB


def attention_maps(model: OpenModel, result: Result) -> Translation | None:
    """``result.final`` with its best candidate's every layer and head of attention and the encoder's
    self-attention (a Transformer's), computed the first time a view asks (a teacher-forced pass: a fifth of the
    search's time, spent only when wanted), cached. None when ``model`` is not the one ``result`` came from
    (retrained since, or another). The other candidates are left as they are: no view draws their heads."""
    if (model.key, model.version) != (result.model_key, result.version):
        return None

    def compute() -> Translation:
        final = result.final
        mapped = model.translator.with_attention_maps(replace(final, candidates=[final.best]))
        return replace(mapped, candidates=[mapped.best, *final.candidates[1:]])

    return MAPS.get(result.request, compute)


def decode(model: OpenModel, text: str, options: dict) -> Result:
    """The whole live decoding at once (no animation), cached."""
    checked = check_options(**options)

    def run() -> Result:
        live = LiveDecoding(model, text, checked)
        for _ in live:
            pass
        return live.result

    return RESULTS.get(result_key(model, text, checked), run)     # a hit builds no frames


def translate(model: OpenModel, text: str, options: dict) -> Translation:
    """``Translator.translate`` without the step records, cached."""
    checked = check_options(**options)
    return TRANSLATIONS.get(result_key(model, text, checked),
                            lambda: model.translator.translate(text, **checked))
