"""The Gradio app's HTTP API: the ``seq2seq_lab.present.api`` functions as named endpoints.

``demo/gradio_app.py`` registers them (``gr.api(api_translate, api_name="translate")`` …); their docstrings
and type hints are what ``gradio_client``'s ``view_api`` shows. Bad input is a ``gr.Error`` reading
``"[code] explanation"``, never a traceback.
"""

from __future__ import annotations

import logging

import gradio as gr

from seq2seq_lab import settings
from seq2seq_lab.errors import LabError
from seq2seq_lab.present import api, views

log = logging.getLogger(__name__)


def _api(function, *args, **kwargs):
    try:
        return function(settings.load(), *args, **kwargs)
    except LabError as error:
        raise gr.Error(f"[{error.code}] {views.error_message(error, 'en')}", print_exception=False) from None
    except Exception as error:
        log.exception("unexpected error in the API")
        raise gr.Error(f"[unexpected] {views.error_message(error, 'en')}", print_exception=False) from None


def api_translate(text: str, model: str = "", beam_size: int = 5, length_penalty: float = 0.0,
                  coverage_penalty: float = 0.0, n_best: int = 5, max_len: int = 0, no_repeat_ngram_size: int = 0,
                  prefix: str = "") -> dict:
    """Translate one Chinese sentence: tokens, the n-best candidates with scores and attention, the device."""
    return _api(api.translate, text, model, beam_size=beam_size, length_penalty=length_penalty,
                coverage_penalty=coverage_penalty, n_best=n_best, max_len=max_len,
                no_repeat_ngram_size=no_repeat_ngram_size, prefix=prefix)


def api_segment(text: str, model: str = "") -> dict:
    """How the model reads the text: jieba words, then tokens (word / sub / char / unk / eos) with ids."""
    return _api(api.segment, text, model)


def api_score(text: str, tokens: list[str] | str, model: str = "") -> dict:
    """Teacher-forced log-probability of an output (token list or English sentence; "</s>" is added)."""
    return _api(api.score, text, tokens, model)


def api_models() -> list[dict]:
    """Every model file: attention type, corpus, test metrics, architecture; unreadable ones with their error."""
    return _api(api.models)
