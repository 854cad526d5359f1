"""The Gradio page: wiring only. What a reply does lives in conversation/turn.py.

No `from __future__ import annotations` here: Gradio reads each handler's type hints
on every call, and string hints would be evaluated again each time.
"""

import math
from typing import Any

import gradio as gr

from ..conversation.approvals import Approvals
from ..conversation.prepare import TurnOptions
from ..conversation.remote_runs import RemoteRuns
from ..conversation.routing import AUTO
from ..conversation.runs import Runs
from ..conversation.turn import ChatService, Update
from ..identity.api_keys import ApiKeys
from ..providers.protocols import LABELS
from ..tools.catalog import McpRuntime
from .api_keys_panel import ApiKeysPanel
from .attachments import Attachments
from .chat_actions import ActionChat
from .chat_turns import ChatTurns
from .compare_panel import ComparePanel
from .conversations_api import register_api
from .conversations_panel import SWITCH_ON_VERSION_LINKS, ConversationPanel
from .dashboard_page import DashboardPage
from .documents_panel import DocumentsPanel
from .message_box import MessageBox
from .own_key_panel import OwnKeyPanel
from .page_style import HEADER, MESSAGE_BOX_ID, PAGE_SCRIPT
from .safe_markdown import markdown_text
from .share_panel import SharePanel
from .usage_limits import UsageLimits
from .voice_panel import WATCH_MICROPHONE, VoicePanel
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


STATE_MARKS = {"running": "🟢", "starting": "⏳", "restarting": "🟡", "stopped": "🔴"}


def tools_status(mcp: McpRuntime) -> str:
    """Each MCP server's state, and why a server is down in its own words (shown as text,
    whatever they say)."""
    lines = []
    for status in mcp.statuses():
        name = f"{STATE_MARKS[status.state]} MCP server **{markdown_text(status.name)}**"
        if status.state == "running":
            lines.append(f"{name}: running, {status.tools} tools.")
        elif status.state == "starting":  # again, after a failure: its words stay shown
            lines.append(f"{name}: starting. {markdown_text(status.problem)}".rstrip())
        elif status.state == "restarting":
            lines.append(f"{name}: restarting in {math.ceil(status.retry_in or 0)} s. "
                         f"{markdown_text(status.problem)}")
        else:
            lines.append(f"{name}: stopped. {markdown_text(status.problem)} "
                         "Press Restart to try again.")
    return "\n\n".join(lines)


def build_ui(service: ChatService, default_model: str, panel: ConversationPanel,
             documents: DocumentsPanel, attachments: Attachments,
             concurrency_limit: int, mcp: McpRuntime, limits: UsageLimits,
             own_keys: OwnKeyPanel, your_data: YourDataPanel, runs: Runs[Update],
             remote: RemoteRuns | None = None, approvals: Approvals | None = None,
             api_keys: ApiKeys | None = None, sharing: bool = False,
             dashboard: DashboardPage | None = None,
             voice: VoicePanel | None = None) -> gr.Blocks:
    """`runs`: the replies running in this process; `remote`: those that other processes
    sharing the database run (with replicas), followed through it."""
    backend, routes = service.backend, service.routes
    auto = [AUTO] if service.router is not None else []
    keys_panel = ApiKeysPanel(api_keys, panel.identity) if api_keys is not None else None
    turns = ChatTurns(service, panel, documents, attachments, limits, own_keys, runs, remote,
                      approvals)
    toolbox = service.rounds.toolbox
    if voice is not None and voice.voice.hears:
        turns.hear = voice.words

    def tool_choices() -> dict[str, Any]:
        """The tools offered, then those of MCP servers that are down, marked."""
        return gr.update(choices=[(f"{t.name} ({t.source})", t.name) for t in toolbox.tools] + [
            (f"{t.name} ({t.server}, unavailable)", t.name) for t in mcp.unavailable()])

    def restart_servers() -> tuple[dict[str, Any], str]:
        mcp.restart()
        return tool_choices(), tools_status(mcp)

    async def refresh_models(current: str) -> tuple[dict[str, Any], str]:
        choices = [*auto, *await routes.model_choices()]
        if current and current not in choices:
            choices.insert(0, current)
        return gr.update(choices=choices), backends_line()

    def backends_line() -> str:
        if routes.several:
            return f"**Backends:** {routes.status()}"
        return f"**Backend:** {backend.label}"

    # Uploads age out of Gradio's cache after a day (stored images come back from the store).
    with gr.Blocks(title="Streaming Assistant", fill_height=True,
                   delete_cache=(3600, 86400)) as demo:
        gr.HTML(HEADER, padding=False)
        with gr.Sidebar(open=True):
            backends_shown = gr.Markdown(backends_line(), elem_id="backend-label")
            if panel.identity.hf_login:  # Gradio adds /login/huggingface and the session cookie
                gr.LoginButton(size="sm")
            own_keys.render()
            panel.render()
            share = SharePanel(panel, sharing)
            share.render()
            suggested = [routes.choice(b, m) for b in routes.backends for m in b.suggested_models]
            with gr.Accordion("Settings", open=True):
                model = gr.Dropdown(label="Model", choices=[*auto, *suggested] or [default_model],
                                    value=default_model, allow_custom_value=True, filterable=True,
                                    info="backend/model" if routes.several else None)
                each_own = [("Each server's own", "")] if routes.several else []
                api = UncheckedRadio(label="API",
                                     choices=[*each_own, *((v, k) for k, v in LABELS.items())],
                                     value="" if routes.several else backend.default_api,
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
            if voice is not None:
                voice.render_settings()
            documents.render()
            usage_left = gr.Markdown("", elem_id="usage-left")
            with gr.Accordion("Tools", open=False) as tools_box:
                tools = UncheckedCheckboxGroup(
                    label="Tools the model may use", choices=tool_choices()["choices"],
                    value=[t.name for t in toolbox.tools] if backend.tools_by_default else [],
                    info="Each call shows as a step in the reply.")
                status = gr.Markdown(tools_status(mcp), elem_id="tools-status")
                restart = gr.Button("Restart MCP servers", size="sm", visible=bool(mcp.servers))
            your_data.render()
            if keys_panel is not None:
                keys_panel.render()
        preset.change(lambda name: PRESETS.get(name, ""), preset, system_prompt,
                      api_visibility="private", queue=False)

        chat_interface = ActionChat(
            fn=turns.chat,
            chatbot=gr.Chatbot(label="Chat", latex_delimiters=LATEX, scale=1, elem_id="chat-log",
                               buttons=["copy", *([voice.speak_button()] if voice else [])],
                               placeholder="Ask anything."),
            additional_inputs=[model, temperature, system_prompt, history_turns, max_tokens,
                               panel.memory.use_memory, api, tools, documents.use_documents],
            multimodal=True,
            textbox=MessageBox(placeholder="Ask anything, or attach documents and images…",
                               file_count="multiple", submit_btn=True,
                               sources=["upload", "microphone"] if voice and voice.voice.hears
                               else ["upload"],
                               stop_btn=True, elem_id=MESSAGE_BOX_ID),
            api_name="chat",
            concurrency_limit=concurrency_limit,
            editable=True,
            fill_height=True,
        )

        if voice is not None:
            voice.render_player()
            voice.wire(chat_interface.textbox, chat_interface.chatbot, panel.token)
        compare = ComparePanel(service, panel, panel.store, limits, own_keys)
        compare.render([*auto, *suggested] or [default_model], default_model)
        chat_interface.add_action_api(concurrency_limit)
        chat_interface.answer_question = turns.answer
        # The token's "" makes it optional to clients: signed-in callers need none.
        answer, token = gr.Textbox(visible=False), gr.Textbox("", visible=False)
        gr.Button(visible=False).click(turns.answer_api, [answer, token], answer,
                                       api_name="answer_tool_call")
        panel.render_versions()

        chat_interface.textbox.stop(turns.stop, [chat_interface.chatbot, panel.token],
                                    [chat_interface.chatbot, chat_interface.chatbot_state],
                                    api_visibility="private", queue=False)

        quick: dict[str, Any] = {"api_visibility": "private", "queue": False}
        chat_interface.chatbot.undo(panel.undo, panel.token, None, **quick).then(
            panel.versions_now, panel.token, panel.versions, **quick)

        for makes_a_version in (chat_interface.chatbot.retry, chat_interface.chatbot.edit,
                                chat_interface.chatbot.option_select):
            makes_a_version(turns.versions_after_turn, [panel.search, panel.token],
                            [panel.versions, panel.conversations],
                            api_visibility="private", concurrency_limit=None)
        model.focus(refresh_models, model, [model, backends_shown], **quick)  # the list is fetched when looked at
        tools_box.expand(lambda: (tool_choices(), tools_status(mcp)), None, [tools, status],
                         **quick)
        restart.click(restart_servers, None, [tools, status], **quick)
        opened = panel.wire(demo, chat_interface, {"model": model, "temperature": temperature,
                                                   "system_prompt": system_prompt,
                                                   "history_turns": history_turns,
                                                   "max_tokens": max_tokens, "api": api})
        following = [chat_interface.chatbot, chat_interface.chatbot_state, chat_interface.textbox]

        def then_follow(event: Any) -> None:
            event.then(turns.follow, panel.token, following, api_visibility="private",
                       concurrency_limit=None)
        for event in opened:
            then_follow(event)
            event.then(lambda: gr.update(visible=False), None, panel.branch_here, **quick)
        compare.wire(panel.restored[2:])
        share.wire(demo, panel.token, panel.restored[2:])
        own_keys.wire(model)
        your_data.wire(panel.token, chat_interface)
        if keys_panel is not None:
            keys_panel.wire()

        chat_interface.textbox.submit(turns.left_today, panel.token, usage_left, **quick)
        register_api(panel.store, panel.identity, sharing)
        documents.wire(demo, panel.token)

        # Changed when a restored chat's reply is still running, so that only then the page
        # asks to follow it: opening a page stays one event.
        running = gr.Number(0, visible="hidden")

        restored = [*panel.restored, *documents.shown, usage_left, running]
        gr.Button(visible="hidden", elem_id=RESTORE_ID).click(
            turns.restore, [panel.token, panel.shown], restored, **quick)
        if panel.identity.signs_in:  # the owner may be in the request, whatever the page holds
            demo.load(turns.restore, [panel.token, panel.shown], restored, **quick)
            demo.load(None, None, None, js=RESTORE_WHEN_ONLINE)
        else:
            demo.load(None, panel.token, None, js=RESTORE_IF_KNOWN)
        demo.load(None, None, None, js=SWITCH_ON_VERSION_LINKS)
        demo.load(None, None, None, js=PAGE_SCRIPT)
        if voice is not None:
            demo.load(None, None, None, js=WATCH_MICROPHONE)
        running.change(turns.follow, panel.token, following, api_visibility="private",
                       concurrency_limit=None)
    if dashboard is not None:
        dashboard.render(demo)
    return demo
