"""The Gradio app's "look closer" tab: coverage, attention against attribution, exposure bias.

Layout and wiring only: the views come from ``seq2seq_lab.present.closer``. The tab draws when it is opened, after
a translation while it is open, when its section or the reference changes, and when the language or pinyin switch
changes.
"""

from __future__ import annotations

import gradio as gr

from seq2seq_lab import settings
from seq2seq_lab.i18n import language, t
from seq2seq_lab.present import catalogue, closer, views


def _sections(lang: str) -> list[tuple[str, str]]:
    return [(t(f"closer.section.{name}", lang), name) for name in closer.SECTIONS]


def build(L: str) -> dict:
    """The tab's components by name (call inside ``gr.Tab``)."""
    parts = {"intro": gr.Markdown(t("closer.intro", L)),
             "section": gr.Radio(_sections(L), value=closer.SECTIONS[0], label=t("closer.pick", L))}
    parts["reference"] = gr.Textbox(label=t("closer.reference", L), info=t("closer.reference_help", L), lines=1,
                                    max_length=closer.MAX_REFERENCE, visible=False)
    parts["caption"] = gr.Markdown()
    with gr.Row():
        parts["left"], parts["right"] = gr.Plot(show_label=False), gr.Plot(show_label=False, visible=False)
    return parts


def view(result, section: str, reference: str | None, lang: str, pinyin: bool) -> tuple:
    """(caption, left figure, right figure update, reference box update) for the section picked."""
    lang = language(lang)
    reference_box = gr.update(visible=section == "exposure", label=t("closer.reference", lang),
                              info=t("closer.reference_help", lang))
    if result is None:
        return "", None, gr.update(value=None, visible=False), reference_box
    try:
        model = catalogue.open_model(result.model_key, settings.load())
        if section == "attribution":
            shown = closer.attribution_view(model, result, lang, pinyin=bool(pinyin))
        elif section == "exposure":
            shown = closer.exposure_view(model, result, reference, lang)
        else:
            shown = closer.coverage_view(result, lang, pinyin=bool(pinyin))
    except Exception as error:                   # bad input is a message, never a traceback
        return f"⚠ {catalogue.md_text(views.error_message(error, lang))}", None, gr.update(visible=False), reference_box
    figures = shown.figures + [None, None]
    mark = "⚠ " if shown.kind == "warning" else ""
    return (mark + shown.caption, figures[0], gr.update(value=figures[1], visible=figures[1] is not None),
            reference_box)


def wire(parts: dict, state, lang_radio, pinyin_box, model_box, tab, other_tabs) -> dict:
    """Redraw on the tab's own controls, and when ``tab`` is opened; returns the event to chain after a new page
    (``.then(**it)``), which puts an example's reference translation in the box and draws only if the tab is open
    (an attribution costs about a second of server time: a class on the live tab should not pay for it)."""
    is_open = gr.State(False)
    inputs = [state, parts["section"], parts["reference"], lang_radio, pinyin_box]
    outputs = [parts["caption"], parts["left"], parts["right"], parts["reference"]]

    def ui_closer(result, section, reference, lang, pinyin):
        return view(result, section, reference, lang, pinyin)

    def ui_closer_new(result, section, reference, lang, pinyin, key, opened):
        """A new translation: an example brings its reference (a typed one stays for a typed sentence)."""
        if result is not None:
            example = closer.default_reference(result, catalogue.shelf(settings.load()).corpus(key))
            reference = example or reference
        caption, left, right, box = (view(result, section, reference, lang, pinyin) if opened
                                     else view(None, section, reference, lang, pinyin))
        return caption, left, right, gr.update(**{**box, "value": reference})

    tab.select(lambda: True, outputs=is_open, api_name="ui_closer_open", api_visibility="private", queue=False).then(
        ui_closer, inputs=inputs, outputs=outputs, api_name="ui_closer_opened", api_visibility="private",
        show_progress="minimal")
    for other in other_tabs:
        other.select(lambda: False, outputs=is_open, api_visibility="private", queue=False)

    def ui_labels(lang):
        lang = language(lang)
        return (t("closer.intro", lang), gr.update(choices=_sections(lang), label=t("closer.pick", lang)))

    gr.on([parts["section"].change, parts["reference"].submit, pinyin_box.change, lang_radio.change], ui_closer,
          inputs=inputs, outputs=outputs, api_name="ui_closer", api_visibility="private", show_progress="minimal")
    lang_radio.change(ui_labels, inputs=lang_radio, outputs=[parts["intro"], parts["section"]],
                      api_name="ui_closer_labels", api_visibility="private")
    return dict(fn=ui_closer_new, inputs=[*inputs, model_box, is_open], outputs=outputs, api_visibility="private",
                show_progress="hidden")
