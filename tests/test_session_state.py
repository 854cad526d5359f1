"""Sessions' state built lazily (assistant/web/session_state.py) reads as Gradio's own."""

from __future__ import annotations

import gradio as gr
from gradio.state_holder import SessionState

from assistant.web.session_state import LazySessionState, LazyStateHolder
from tests.conftest import FAKE_MODEL, start_app


def configs(state: SessionState) -> list[dict]:
    return list(state.components)


def test_a_lazy_session_gives_every_component_config_gradio_would_after_the_same_events(
        fake, tmp_path):
    app = start_app({"OPENAI_BASE_URL": fake.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_DATA_DIR": str(tmp_path)})
    try:
        demo = app.app.demo
        assert isinstance(demo.server_app.state_holder, LazyStateHolder)
        gradios, ours = SessionState(demo), LazySessionState(demo)
        textbox = next(b for b in demo.blocks.values() if isinstance(b, gr.Textbox))
        radio = next(b for b in demo.blocks.values() if isinstance(b, gr.Radio))
        for state in (gradios, ours):
            state._update_value_in_config(textbox._id, "typed")  # as an event's input
            state._update_value_in_config(radio._id, "a")
            state[radio._id] = gr.Radio(choices=["a", "b"], value="b")  # as gr.update does
        assert textbox._id in ours.config_values and radio._id in ours.config_values
        assert configs(ours) == configs(gradios)
        assert len(configs(ours)) == len(demo.blocks)
        assert any(c.get("props", {}).get("value") == "typed" for c in configs(ours))
    finally:
        app.close()
