"""Gradio's ChatInterface, with its buttons sending actions instead of words.

ChatInterface turns Retry, Edit and a clicked option into a message to the chat
function, indistinguishable from one the user typed. Here each becomes an
`ActionMessage`: a list of the user messages to show again (none for Continue), which
carries the action. Typed text arrives as before, and is only ever text.
"""

from __future__ import annotations

import inspect
from contextlib import aclosing
from typing import Any, AsyncGenerator, AsyncIterator, Callable, get_type_hints

import gradio as gr

from ..conversation.actions import Action, ActionKind
from ..conversation.approvals import ANSWERS, Choice
from .chatbot_history import field, message_text
from .render import CONTINUE, INCOMPLETE_NOTICE_ID, REGENERATE

OPTION_ACTIONS: dict[str, ActionKind] = {CONTINUE: "continue", REGENERATE: "retry"}


class ActionMessage(list[Any]):
    """What ChatInterface shows for an action (a list of Chatbot messages), and the action."""

    def __init__(self, action: Action, shown: list[Any] | None = None, text: str = "") -> None:
        super().__init__(shown or [])
        self.action = action
        self.text = text  # an edited message's new text


class RetryMessage(dict[str, Any]):
    """The message taken back, as the message box holds it: Undo puts it back in the box,
    Retry answers it again as a new version of its reply."""

    def __init__(self, action: Action, message: Any) -> None:
        super().__init__(message if isinstance(message, dict) else {"text": message, "files": []})
        self.action = action


def user_messages(history: list[Any]) -> int:
    return sum(1 for m in history if field(m, "role") == "user")


def _is_incomplete_mark(message: Any) -> bool:
    metadata = message.get("metadata") if isinstance(message, dict) else None
    return isinstance(metadata, dict) and metadata.get("id") == INCOMPLETE_NOTICE_ID


def action_of(message: Any) -> Action | None:
    return message.action if isinstance(message, (ActionMessage, RetryMessage)) else None


class Answered(list[Any]):
    """An option that answered a tool's question: nothing to send, nothing to show (the
    reply that asked goes on in the event that shows it)."""


class OpenedElsewhere(list[Any]):
    """The page opened another chat while the reply streamed: nothing more to show here
    (the reply goes on, and shows where its chat is opened)."""


class ActionChat(gr.ChatInterface):
    # Set by the page: answers the caller's question about a call; False when it is not
    # waiting (any more).
    answer_question: Callable[[Choice, str, gr.Request], bool] = staticmethod(
        lambda choice, call_id, request: False)

    def option_clicked(self, history: list[Any], option: gr.SelectData,  # type: ignore[override]
                       request: gr.Request) -> tuple[Any, Any]:
        choice, _, call_id = str(option.value).partition(":")  # render.approval_question's
        if choice in ANSWERS and call_id:
            if not self.answer_question(choice, call_id, request):
                gr.Warning("This question has been answered already, or it timed out.")
            # The reply goes on at once: drawing the chat as it was could hide its next words.
            return gr.skip(), Answered()
        kind = OPTION_ACTIONS.get(str(option.value))
        if kind is None:  # an option that is not an action is asked as a message
            return super().option_clicked(history, option)
        if kind == "retry":
            return self._pop_last_user_message(history)
        shown = history[:-1] if history and _is_incomplete_mark(history[-1]) else history
        return shown, ActionMessage(Action(kind))

    def _pop_last_user_message(self, history: list[Any]) -> tuple[list[Any], Any]:
        """The chat before its last question, and that question (from either history shape)."""
        end = len(history)
        while end and field(history[end - 1], "role") == "assistant":
            end -= 1
        start = end
        while start and field(history[start - 1], "role") == "user":
            start -= 1
        contents = [field(m, "content") for m in history[start:end]]
        parts = [p for c in contents for p in (c if isinstance(c, list) else [c])]
        files = [p["file"] for p in parts if isinstance(p, dict) and p.get("type") == "file"]
        text = "".join(message_text(p) for p in parts)
        kept = history[:start]
        return kept, RetryMessage(Action("retry", user_messages(kept), text),
                                  {"text": text, "files": files})

    def _edit_message(self, history: list[Any], edit_data: gr.EditData) -> tuple[Any, ...]:
        # The page puts the new text in its history before it sends the edit.
        index, before = edit_data.index, getattr(edit_data, "previous_value", None)
        said = message_text(before) if before is not None else message_text(
            field(history[index], "content")) \
            if isinstance(index, int) and 0 <= index < len(history) else None
        kept, state, value = super()._edit_message(history, edit_data)
        edited: Any = value
        text = edited if isinstance(edited, str) else str((edited or {}).get("text") or "")
        return kept, state, ActionMessage(Action("edit", user_messages(kept), said),
                                          [{"role": "user", "content": value}], text)

    async def _stream_fn(self, message: Any, history: list[Any],
                         *args: Any) -> AsyncGenerator[tuple[Any, ...], None]:
        if isinstance(message, Answered):  # leaves the chat as the page shows it
            yield gr.skip(), gr.skip()
            return
        async with aclosing(super()._stream_fn(message, history, *args)) as chunks:
            async for chunk in chunks:
                if isinstance(chunk[0], OpenedElsewhere):  # Gradio draws the last value again
                    yield gr.skip(), gr.skip()
                    return
                yield chunk

    def add_action_api(self, concurrency_limit: int | None) -> None:
        """/continue_reply and /regenerate_reply: the incomplete mark's two buttons, for
        scripts. They take /chat's inputs but the message, and answer as /chat does."""
        endpoints: dict[ActionKind, str] = {"continue": "continue_reply",
                                            "retry": "regenerate_reply"}
        for kind, api_name in endpoints.items():
            gr.Button(visible=False).click(
                self._action_endpoint(kind), [self.chatbot_state, *self.additional_inputs],
                [self.api_response, self.chatbot_state], api_name=api_name,
                concurrency_limit=concurrency_limit, postprocess=False)

    def _action_endpoint(self, kind: ActionKind) -> Any:
        async def run(history: list[Any], *args: Any) -> AsyncIterator[Any]:
            if kind == "retry":
                history, message = self._pop_last_user_message(history)
            else:
                message = ActionMessage(Action(kind))
            async for chunk in self._stream_fn(message, history, *args):
                yield chunk

        # fn's parameters but the message, so that Gradio passes the request where fn takes it
        signature = inspect.signature(self.fn)
        first = next(iter(signature.parameters))
        run.__signature__ = signature.replace(  # type: ignore[attr-defined,unused-ignore]
            parameters=list(signature.parameters.values())[1:])
        run.__annotations__ = {name: hint for name, hint in get_type_hints(self.fn).items()
                               if name != first}
        return run
