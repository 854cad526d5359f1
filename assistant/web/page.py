"""The Gradio page: wiring only. What a reply does lives in conversation/turn.py.

No `from __future__ import annotations` here: Gradio reads each handler's type hints
on every call, and string hints would be evaluated again each time.
"""

import asyncio
import itertools
from typing import Any, AsyncIterator

import gradio as gr

from ..conversation.actions import SEND, Action, Plan
from ..conversation.prepare import TurnOptions
from ..conversation.remote_runs import RemoteRuns
from ..conversation.runs import Runs
from ..conversation.turn import ChatService, Update
from ..domain.reply import Charge, Place
from ..domain.validation import InvalidInput
from ..providers.protocols import LABELS
from ..providers.routes import Route
from ..quotas.meter import Admission
from ..tools.catalog import McpRuntime
from .attachments import Attachments
from .chat_actions import ActionChat, ActionMessage, action_of
from .chatbot_history import history_messages, mark_stopped, shown_chars
from .conversations_api import register_api
from .conversations_panel import ConversationPanel
from .documents_panel import DocumentsPanel
from .message_box import MessageBox
from .own_key_panel import NEEDS_KEY_NOTICE, OwnKeyPanel
from .render import RAW, chat_messages_of, notice, render
from .safe_markdown import markdown_text
from .usage_limits import UsageLimits
from .your_data_panel import YourDataPanel

PRESETS: dict[str, str] = {
    "Helpful": "You are a helpful assistant. Answer accurately, and say so when you are not sure.",
    "Concise": "Answer as briefly as the question allows. No preamble, no repetition.",
    "Structured": "Structure every answer with Markdown headings and bulleted lists, "
                  "and end with a one-line summary.",
    "Tutor": "You are a patient tutor. Explain step by step, use small examples, and end "
             "with one short question that checks understanding.",
    "Coder": "You are a senior software engineer. Give working code in fenced blocks "
             "that name the language, then explain briefly.",
}
Page = gr.Blocks  # what build_ui returns; the app layer holds it without importing gradio
DEFAULT_PRESET = "Helpful"
LIMIT_NOTICE_ID = "limit"
DEFAULTS = TurnOptions()
LATEX: list[dict[str, str | bool]] = [{"left": "$$", "right": "$$", "display": True},
         {"left": "$", "right": "$", "display": False},
         {"left": "\\(", "right": "\\)", "display": False},
         {"left": "\\[", "right": "\\]", "display": True}]


def _any_value(self: Any, payload: Any) -> Any:
    """The Unchecked components pass any value on: the turn checks it and answers in the
    chat, for the API too. (is_template: the browser draws them as their parent.)"""
    return payload


class UncheckedSlider(gr.Slider):
    is_template = True
    preprocess = _any_value


class UncheckedNumber(gr.Number):
    is_template = True
    preprocess = _any_value


class UncheckedRadio(gr.Radio):
    is_template = True
    preprocess = _any_value


class UncheckedCheckboxGroup(gr.CheckboxGroup):
    is_template = True
    preprocess = _any_value


# A new visitor's page asks the server nothing; one that holds a token restores its chats,
# and does again when its connection comes back, to follow a reply that went on meanwhile.
RESTORE_ID = "restore-session"
RESTORE_IF_KNOWN = ("(token) => { const restore = () => document.getElementById('" + RESTORE_ID
                    + "')?.click(); window.addEventListener('online', restore);"
                    " if (token) restore(); return []; }")
RESTORE_WHEN_ONLINE = ("() => { window.addEventListener('online', () => document"
                       ".getElementById('" + RESTORE_ID + "')?.click()); return []; }")


def from_a_page(request: gr.Request) -> bool:
    """Browsers send Origin with every POST; API clients such as gradio_client send none."""
    return bool((request.headers or {}).get("origin"))


def tools_status(mcp: McpRuntime) -> str:
    """Why MCP servers are down, in their own words: shown as text, whatever they say."""
    return "\n".join(f"⚠️ MCP server **{markdown_text(name)}** is not available: "
                     f"{markdown_text(problem)}" for name, problem in mcp.problems.items())


def build_ui(service: ChatService, default_model: str, panel: ConversationPanel,
             documents: DocumentsPanel, attachments: Attachments,
             concurrency_limit: int, mcp: McpRuntime, limits: UsageLimits,
             own_keys: OwnKeyPanel, your_data: YourDataPanel, runs: Runs[Update],
             remote: RemoteRuns | None = None) -> gr.Blocks:
    """`runs`: the replies running in this process; `remote`: those that other processes
    sharing the database run (with replicas), followed through it."""
    backend = service.backend
    toolbox = service.rounds.toolbox

    def tool_choices() -> dict[str, Any]:
        return gr.update(choices=[(f"{t.name} ({t.source})", t.name) for t in toolbox.tools])

    async def chat(message: Any, history: list[Any], model: str, temperature: float,
                   system_prompt: str, history_turns: int, max_tokens: int,
                   use_memory: bool, api: str, tools: list[str] | None,
                   use_documents: bool | None, request: gr.Request) -> AsyncIterator[Any]:
        session = panel.identity.sessions.get(request.session_hash)
        if session.reply_stopped:  # Gradio may sync its history state before the Stop mark
            history, session.reply_stopped = mark_stopped(history), False
        action = action_of(message) or SEND
        files: list[str]
        if isinstance(message, ActionMessage):
            text, files = message.text, []
        else:
            text, files = attachments.split(message)
            if action.kind != "send":
                files = []  # the message's files were taken when it was first sent
        if action.kind in ("send", "edit") and not files and \
                not (isinstance(text, str) and text.strip()):
            return
        owner = panel.identity.owner(request)
        if owner is None and from_a_page(request):
            owner = panel.identity.owner_or_new(request)  # the page keeps it after the turn
        if own_keys.needs_key(request.session_hash):
            yield notice(NEEDS_KEY_NOTICE, notice_id=LIMIT_NOTICE_ID)
            return
        route = own_keys.route(request.session_hash)
        admitted = await limits.admit_async(request, owner, own_key=route is not None)
        if isinstance(admitted, str):
            yield notice(admitted, notice_id=LIMIT_NOTICE_ID)  # nothing reaches the model
            return
        try:  # the slot is released when the turn ends, or by its run when it has one
            options = TurnOptions(model, temperature, system_prompt, history_turns, max_tokens,
                                  api, tuple(tools or ()), documents=use_documents is not False)
            async for shown in _answer(text, files, history, action, options, use_memory, owner,
                                       session, request, admitted, route):
                yield shown
        finally:
            if not admitted.handed_over:
                admitted.release()

    async def _answer(text: Any, files: list[str], history: list[Any], action: Action,
                      options: TurnOptions, use_memory: bool, owner: str | None, session: Any,
                      request: gr.Request, admitted: Admission,
                      route: Route | None) -> AsyncIterator[Any]:
        memories: list[str] = []
        images, said = await attachments.take(owner, files)
        if said and not (isinstance(text, str) and text.strip()) and not images:
            yield said  # documents added, nothing asked
            return
        try:
            planned = await panel.plan_turn(request, owner, action,
                                            text if isinstance(text, str) else "")
        except InvalidInput as exc:
            yield notice(f"⚠️ {exc}", notice_id="invalid")
            return
        if planned is None:  # nobody's chat: the context is what the caller sent
            place, steps = Place(), Plan(history_messages(
                history, await attachments.earlier_images(history)), None,
                continues=action.kind == "continue")
        else:
            place, steps = planned
        if steps.text is not None:  # a stored message asked again
            text = steps.text
        if steps.images:  # a stored message's images, asked again or edited
            images = list(steps.images)
        if place.owner and use_memory:
            memories = await asyncio.to_thread(panel.saved_facts, place.owner)
        link = attachments.source_link(owner)
        shown_safe = panel.images if from_a_page(request) else RAW  # /chat keeps the model's text
        updates = service.respond(text, steps.history, options, memories=memories,
                                  images=images, place=place,
                                  charge=Charge(admitted.meter, admitted.keys),
                                  continues=steps.continues, route=route,
                                  shown_chars=shown_chars(history))
        run = runs.start(place, updates, on_end=admitted.hand_over())
        try:
            async for update in run.follow():
                shown = render(update, link, shown_safe)
                yield [*said, *(shown if isinstance(shown, list) else [shown])] if said else shown
        except (asyncio.CancelledError, GeneratorExit):  # Stop, a closed tab or a reload
            if not (place.owner and from_a_page(request)):  # only a page comes back to follow
                run.stop()  # an API caller's cancel is its Stop, as before
                session.reply_stopped = True
            raise

    async def refresh_models(current: str) -> dict[str, Any]:
        choices = await backend.model_choices()
        if current and current not in choices:
            choices.insert(0, current)
        return gr.update(choices=choices)

    # Uploads age out of Gradio's cache after a day (stored images come back from the store).
    with gr.Blocks(title="Streaming Assistant", fill_height=True,
                   delete_cache=(3600, 86400)) as demo:
        with gr.Sidebar(open=True):
            gr.Markdown(f"**Backend:** {backend.label}", elem_id="backend-label")
            if panel.identity.hf_login:  # Gradio adds /login/huggingface and the session cookie
                gr.LoginButton(size="sm")
            own_keys.render()
            panel.render()
            gr.Markdown("### Settings")
            model = gr.Dropdown(label="Model",
                                choices=list(backend.suggested_models) or [default_model],
                                value=default_model, allow_custom_value=True, filterable=True)
            api = UncheckedRadio(label="API", choices=[(v, k) for k, v in LABELS.items()],
                                 value=backend.default_api,
                                 info="Responses is OpenAI's newer API; most other servers "
                                      "speak only Chat Completions.")
            temperature = UncheckedSlider(0, 2, value=DEFAULTS.temperature, step=0.05,
                                          label="Temperature")
            preset = gr.Dropdown(label="System prompt preset", choices=list(PRESETS),
                                 value=DEFAULT_PRESET)
            system_prompt = gr.Textbox(label="System prompt", value=PRESETS[DEFAULT_PRESET],
                                       lines=4, max_lines=12)
            history_turns = UncheckedSlider(0, 50, value=DEFAULTS.history_turns, step=1,
                                            label="History length (earlier turns sent)")
            max_tokens = UncheckedNumber(label="Max output tokens", value=DEFAULTS.max_tokens,
                                         minimum=1, precision=0)
            documents.render()
            usage_left = gr.Markdown("", elem_id="usage-left")
            with gr.Accordion("Tools", open=False) as tools_box:
                tools = UncheckedCheckboxGroup(
                    label="Tools the model may use", choices=tool_choices()["choices"],
                    value=[t.name for t in toolbox.tools] if backend.tools_by_default else [],
                    info="Each call shows as a step in the reply.")
                status = gr.Markdown(tools_status(mcp), elem_id="tools-status")
            your_data.render()
        preset.change(lambda name: PRESETS.get(name, ""), preset, system_prompt,
                      api_visibility="private", queue=False)

        chat_interface = ActionChat(
            fn=chat,
            chatbot=gr.Chatbot(label="Chat", latex_delimiters=LATEX, scale=1,
                               buttons=["copy"], placeholder="Ask anything."),
            additional_inputs=[model, temperature, system_prompt, history_turns, max_tokens,
                               panel.use_memory, api, tools, documents.use_documents],
            multimodal=True,
            textbox=MessageBox(placeholder="Ask anything, or attach documents and images…",
                               file_count="multiple", sources=["upload"], submit_btn=True,
                               stop_btn=True),
            api_name="chat",
            concurrency_limit=concurrency_limit,
            editable=True,
            fill_height=True,
        )

        chat_interface.add_action_api(concurrency_limit)
        panel.render_versions()

        async def on_stop(history: list[Any], token: str,  # on the loop, where runs live
                          request: gr.Request) -> tuple[list[Any], list[Any]]:
            panel.identity.sessions.get(request.session_hash).reply_stopped = True
            owner, conversation_id = panel.current(token, request)  # the reply this tab shows
            if not runs.stop(owner, conversation_id) and remote and owner and conversation_id:
                await remote.stop(owner, conversation_id)  # it runs in another process
            marked = mark_stopped(history)
            return marked, marked

        chat_interface.textbox.stop(on_stop, [chat_interface.chatbot, panel.token],
                                    [chat_interface.chatbot, chat_interface.chatbot_state],
                                    api_visibility="private", queue=False)

        async def follow(token: str, request: gr.Request) -> AsyncIterator[Any]:
            """The reply still being written in the chat this tab opened, after a reload or
            from another tab: the stored chat before it, then the reply as it grows."""
            owner, conversation_id = panel.current(token, request)
            run = runs.find(owner, conversation_id)
            if owner is None or conversation_id is None:
                yield gr.skip(), gr.skip(), gr.skip()
                return
            if run is None:
                async for shown in follow_elsewhere(owner, conversation_id):
                    yield shown
                return
            link = attachments.source_link(owner)
            before: list[Any] | None = None
            yield gr.skip(), gr.skip(), gr.update(submit_btn=False, stop_btn=True)
            async for update in run.follow():
                if before is None:
                    before = await panel.shown_before(owner, conversation_id, run.place)
                shown = [*before, *chat_messages_of(render(update, link, panel.images))]
                yield shown, shown, gr.skip()
            yield gr.skip(), gr.skip(), gr.update(submit_btn=True, stop_btn=False)

        async def follow_elsewhere(owner: str, conversation_id: str) -> AsyncIterator[Any]:
            """The reply another process writes in this chat, as it is saved there."""
            reply = await asyncio.to_thread(remote.find, owner, conversation_id) \
                if remote is not None else None
            if remote is None or reply is None:
                yield gr.skip(), gr.skip(), gr.skip()
                return
            yield gr.skip(), gr.skip(), gr.update(submit_btn=False, stop_btn=True)
            async for conversation in remote.follow(owner, conversation_id, reply.id):
                shown = panel.chat_of(owner, conversation)
                yield shown, shown, gr.skip()
            yield gr.skip(), gr.skip(), gr.update(submit_btn=True, stop_btn=False)
        quick: dict[str, Any] = {"api_visibility": "private", "queue": False}
        chat_interface.chatbot.undo(panel.undo, panel.token, None, **quick).then(
            panel.versions_now, panel.token, panel.versions, **quick)

        async def versions_after_turn(token: str, request: gr.Request) -> Any:
            """The versions control once the reply that Retry, Edit or an option started ends."""
            run = await runs.next(*panel.current(token, request), timeout=10)
            if run is not None:
                await run.ended()
            return await panel.versions_now(token, request)
        for makes_a_version in (chat_interface.chatbot.retry, chat_interface.chatbot.edit,
                                chat_interface.chatbot.option_select):
            makes_a_version(versions_after_turn, panel.token, panel.versions,
                            api_visibility="private", concurrency_limit=None)
        model.focus(refresh_models, model, model, **quick)  # the list is fetched when looked at
        tools_box.expand(lambda: (tool_choices(), tools_status(mcp)), None, [tools, status],
                         **quick)
        opened = panel.wire(demo, chat_interface, {"model": model, "temperature": temperature,
                                                   "system_prompt": system_prompt,
                                                   "history_turns": history_turns,
                                                   "max_tokens": max_tokens, "api": api})
        following = [chat_interface.chatbot, chat_interface.chatbot_state, chat_interface.textbox]

        def then_follow(event: Any) -> None:
            event.then(follow, panel.token, following, api_visibility="private",
                       concurrency_limit=None)
        for event in opened:
            then_follow(event)
            event.then(lambda: gr.update(visible=False), None, panel.branch_here, **quick)
        own_keys.wire(model)
        your_data.wire(panel.token, chat_interface)

        def left_today(token: str, request: gr.Request) -> str:
            line = limits.left_today(request, panel.identity.owner(request, token),
                                     own_key=own_keys.route(request.session_hash) is not None)
            return f"⏳ {line}" if line else ""

        chat_interface.textbox.submit(left_today, panel.token, usage_left, **quick)
        register_api(panel.store, panel.identity)
        documents.wire(demo, panel.token)

        # Changed when a restored chat's reply is still running, so that only then the page
        # asks to follow it: opening a page stays one event.
        running = gr.Number(0, visible="hidden")
        restores = itertools.count(1)

        def restore(token: str, shown: str, request: gr.Request) -> tuple[Any, ...]:
            chats = panel.restore(token, shown, request)
            owner, conversation_id = panel.current(token, request)
            live = runs.find(owner, conversation_id) is not None or bool(
                remote and owner and conversation_id and remote.find(owner, conversation_id))
            return (*chats, *documents.restore(token, request), left_today(token, request),
                    next(restores) if live else gr.skip())

        restored = [*panel.restored, *documents.shown, usage_left, running]
        gr.Button(visible="hidden", elem_id=RESTORE_ID).click(
            restore, [panel.token, panel.shown], restored, **quick)
        if panel.identity.signs_in:  # the owner may be in the request, whatever the page holds
            demo.load(restore, [panel.token, panel.shown], restored, **quick)
            demo.load(None, None, None, js=RESTORE_WHEN_ONLINE)
        else:
            demo.load(None, panel.token, None, js=RESTORE_IF_KNOWN)
        running.change(follow, panel.token, following, api_visibility="private",
                       concurrency_limit=None)
    return demo
