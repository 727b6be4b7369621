"""The presentation layer: what both apps show, computed once, without any UI toolkit.

The Streamlit and Gradio apps are layout and event wiring only; everything they display
comes from here as plain values (strings, rows, plotly figures, dataclasses) that the
tests check without a browser:

- :mod:`.catalogue` — the models folder as a picker: labels, cards, a shared model cache,
  the example sentences and the rule for swapping the example when the model changes;
- :mod:`.live` — the live decoding: one :class:`~.live.Frame` per step while the model
  runs, the frames of the final translation to scrub through, the :class:`~.live.Result`
  one translation leaves, and small bounded caches of finished decodings;
- :mod:`.heads` — a Transformer's heads: the head picker, every head side by side, self-attention,
  one head traced through one step;
- :mod:`.views` — captions, the greedy-vs-beam comparison, the n-best table, the search
  tree, the pipeline panels, friendly errors;
- :mod:`.api` — the JSON the HTTP API returns.

The option limits come from :mod:`seq2seq_lab.options`, the runtime settings from
:mod:`seq2seq_lab.settings`.
"""
