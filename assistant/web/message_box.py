"""The chat's input: text with attached files, which also takes a plain string.

`/chat` took a string before files came, and scripts rely on it, so a string is a
message too; `{"text": …, "files": [handle_file(…)]}` attaches files.
"""

from typing import Any

import gradio as gr
from gradio.components.multimodal_textbox import MultimodalData
from gradio.events import Events

_MULTIMODAL = MultimodalData.model_json_schema()
SCHEMA = {"anyOf": [{"type": "string"}, {k: v for k, v in _MULTIMODAL.items() if k != "$defs"}],
          "$defs": _MULTIMODAL.get("$defs", {}),
          "additional_description": "a message: a string, or {text, files}"}


class MessageBox(gr.MultimodalTextbox):
    is_template = True  # drawn by MultimodalTextbox's own frontend code
    # Its frontend also reports uploads, a recording's end and a microphone that failed.
    EVENTS = [*gr.MultimodalTextbox.EVENTS, Events.upload, Events.stop_recording, Events.clear]  # noqa: RUF012
    data_model = None  # type: ignore[assignment]  # checked in preprocess, where a str is allowed

    def api_info(self) -> dict[str, Any]:
        return SCHEMA

    def preprocess(self, payload: Any) -> Any:
        if payload is None or isinstance(payload, str):
            return {"text": payload or "", "files": []}
        data = payload if isinstance(payload, MultimodalData) else \
            MultimodalData.model_validate(payload, context={"validate_meta": True})
        return super().preprocess(data)
