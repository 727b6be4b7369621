"""What the parts of the Streamlit app share: the visitor's language, errors, figures, output boxes.

The Streamlit app is ``streamlit_app.py`` (the page), ``streamlit_player.py`` (the live animation, played in the
browser by ``live_player.js``), ``streamlit_tabs.py`` (the tabs below it), ``streamlit_heads.py`` (a
Transformer's heads) and ``streamlit_training.py`` (the sidebar's training). Layout only: what is shown comes
from ``seq2seq_lab.present``.
"""

from __future__ import annotations

import html

import streamlit as st

from seq2seq_lab import figures, settings
from seq2seq_lab.i18n import t
from seq2seq_lab.present import views
from seq2seq_lab.present.turns import Turns

# A heatmap's plot width in a column beside something else on a 1366-px page, measured in Chromium: 318 px (338 in
# Chinese) in the live tab's 3/5 column beside the bars, for 他是我的老师。. A sentence whose words need more
# (views.words_width) gets the page's width instead: the bars, or the second decoding, go below (test_browser.py).
SIDE_HEATMAP_PX = 320
# The attention variants' compact heatmaps: plot width in a card one of three, or two, to a row on a 1366-px page,
# measured the same way: 165–199 px (the narrowest kept) for 我爱学习。 and 你好！, 328 px for 他是我的老师。; a
# sentence whose words need more gets fewer cards a row.
VARIANT_PLOT_PX = {3: 165, 2: 328}


@st.cache_resource(show_spinner=False)
def turns(size: int) -> Turns:
    return Turns(size)


def server_turns() -> Turns:
    """The server's one queue of script runs (``SEQ2SEQ_LAB_SCRIPT_TURNS`` compute at once; present/turns.py)."""
    return turns(settings.load().script_turns)


def lang() -> str:
    return st.session_state.get("lang", "en")


def T(key: str, **values) -> str:
    return t(key, lang(), **values)


def presenter() -> bool:
    return bool(st.session_state.get("presenter"))


def pinyin() -> bool:
    return bool(st.session_state.get("pinyin"))


def show_error(error: Exception, where=st) -> None:
    where.error(views.error_message(error, lang()), icon=":material/error:")


def labels(table: dict):
    """A widget's format_func from a table made now (not one that reads the language later)."""
    return lambda value: table.get(value, str(value))


def plot(fig, key: str, where=None, filename: str | None = None, *, themed: bool = True) -> None:
    """A plotly figure with PNG/SVG export from its modebar (client-side, offline). ``themed=False``: drawn as
    the figure says, not restyled by Streamlit's theme, as the live player draws its frames (streamlit_player.py)
    and the Gradio app its charts."""
    config = figures.export_config(filename or key, fmt=st.session_state.get("export_fmt", "png"))
    (where or st).plotly_chart(fig, key=key, config=config, width="stretch", theme="streamlit" if themed else None)


def heatmap(src_tokens, out_tokens, attention, **kwargs):
    return views.heatmap(src_tokens, out_tokens, attention, lang(), presenter=presenter(), pinyin=pinyin(), **kwargs)


def draw_panel(panel: views.Panel) -> None:
    """One stage of the pipeline tab: its title, caption, token chips or figure, in a box."""
    with st.container(border=True):
        st.markdown(f"##### {panel.title}")
        st.caption(panel.caption)
        if panel.html:
            st.markdown(panel.html, unsafe_allow_html=True)
        if panel.figure is not None:
            plot(panel.figure, key=f"pipe_{panel.key}", filename=f"pipeline_{panel.key}")


def output(text: str, small: bool = False) -> None:
    """A translation in the big output box (escaped: model output shown as HTML)."""
    html_class = "lab-output lab-small" if small else "lab-output"
    st.markdown(f"<div class='{html_class}'>{html.escape(text)}</div>", unsafe_allow_html=True)


def keep_choice(key: str) -> None:
    """Send a selectbox's choice to the browser again, before it is drawn with this run's labels.

    Streamlit passes a selectbox's choice as the label shown, and the browser keeps its label when only
    the labels change (a language switch). The run after that could not read the old language's label:
    the choice became the label itself and ``on_change`` fired. A value set here goes out with the box.
    """
    if key in st.session_state:
        st.session_state[key] = st.session_state[key]
