"""Voice on the page: the message box's microphone and audio uploads turned into text, the
"Voice" settings, the audio element that reads replies aloud, and /transcribe.

No `from __future__ import annotations` here: Gradio reads each handler's type hints
on every call, and string hints would be evaluated again each time.
"""

import asyncio
import mimetypes
from pathlib import Path
from typing import Any, AsyncIterator

import gradio as gr

from ..conversation.runs import Run, Runs
from ..conversation.turn import Update
from ..domain.reply import Reply
from ..voice.recording import AudioProblem
from ..voice.service import NO_VOICE, VoiceService
from ..voice.tickets import SpeechTickets
from .conversations_panel import ConversationPanel
from .page_style import MESSAGE_BOX_ID
from .safe_markdown import markdown_text
from .usage_limits import UsageLimits
from .voice_routes import PATH

AUDIO_ID = "voice-out"
AUDIO_SUFFIXES = {".wav", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".flac", ".webm",
                  ".weba", ".mp4a"}
MIC_REFUSED = ("⚠️ The microphone is not available: allow this page to use it (the icon in "
               "the address bar), or attach an audio file instead.")
NOTHING_TO_READ = "There is no reply to read aloud yet."

# The recorder in the message box keeps a recording until ✓ attaches it: attach it at once.
ATTACH_RECORDING = """async () => {
  const pause = () => new Promise((done) => setTimeout(done, 50));
  for (let i = 0; i < 100; i++) {
    const attach = document.querySelector('#""" + MESSAGE_BOX_ID + """ [aria-label="Attach audio"]');
    if (attach) { attach.click(); await pause(); return; }
    await pause();
  }
}"""
SEND_IF_ASKED = """(heard, send) => {
  if (heard && send) setTimeout(() =>
    document.querySelector('#""" + MESSAGE_BOX_ID + """ .submit-button')?.click(), 0);
}"""
PLAY = """(url) => {
  const audio = document.getElementById('""" + AUDIO_ID + """');
  if (!url || !audio) return;
  audio.src = url;
  audio.play().catch(() => {});
}"""
SILENCE_PLAYER = """() => {
  const audio = document.getElementById('""" + AUDIO_ID + """');
  if (audio) { audio.pause(); audio.removeAttribute('src'); audio.load(); }
}"""
MIC_REFUSED_ID = "voice-mic-refused"
# Gradio's recorder only reports a refusal when there is one microphone: every refusal is.
WATCH_MICROPHONE = """() => {
  const media = navigator.mediaDevices;
  if (!media || !media.getUserMedia) return;
  const ask = media.getUserMedia.bind(media);
  media.getUserMedia = async (constraints) => {
    try { return await ask(constraints); }
    catch (error) { document.getElementById('""" + MIC_REFUSED_ID + """')?.click(); throw error; }
  };
}"""
PLAYER = (f'<audio id="{AUDIO_ID}" controls preload="none" '
          'aria-label="Reply read aloud"></audio>')


def is_audio(path: str) -> bool:
    kind = mimetypes.guess_type(path)[0] or ""
    return kind.startswith("audio/") or Path(path).suffix.lower() in AUDIO_SUFFIXES


async def texts_of(run: Run[Update]) -> AsyncIterator[tuple[str, bool]]:
    """A running reply's text as it grows, and whether it has ended. A reply that fails
    says so in the chat; its speech just ends with what was written."""
    text = ""
    try:
        async for update in run.follow():
            if isinstance(update, Reply):
                text = update.text
                yield text, update.ended is not None
    except Exception:
        pass
    yield text, True


async def once(text: str) -> AsyncIterator[tuple[str, bool]]:
    yield text, True


class VoicePanel:
    def __init__(self, voice: VoiceService, tickets: SpeechTickets, panel: ConversationPanel,
                 limits: UsageLimits, runs: Runs[Update]) -> None:
        self.voice = voice
        self.tickets = tickets
        self.panel = panel
        self.limits = limits
        self.runs = runs

    @property
    def on(self) -> bool:
        return self.voice.hears or self.voice.voice is not None

    def render_settings(self) -> None:
        with gr.Accordion("Voice", open=False, visible=self.on):
            self.send_spoken = gr.Checkbox(
                False, label="Send when I stop speaking", elem_id="voice-send",
                info="Record with the microphone in the message box.")
            self.read_aloud = gr.Checkbox(False, label="Read replies aloud",
                                          elem_id="voice-read",
                                          info="Each sentence as soon as it is written.")
            gr.Markdown(self._models_line(), elem_id="voice-models")

    def render_player(self) -> None:
        with gr.Row(visible=self.on, elem_id="voice-player"):
            self.status = gr.Markdown("", elem_id="voice-status")
            gr.HTML(PLAYER, padding=False)
        self.url = gr.Textbox(visible=False)
        self.heard = gr.Checkbox(False, visible=False)

    def speak_button(self) -> gr.Button:
        self.speak = gr.Button("🔊 Read aloud", size="sm", elem_id="voice-speak",
                               visible=self.voice.voice is not None)
        return self.speak

    def _models_line(self) -> str:
        hears = self.voice.server_transcriber or self.voice.offline_transcriber
        voice = self.voice.voice
        return markdown_text(f"Hears with {hears.label if hears else 'nothing (off)'}; "
                             f"speaks with {voice.label if voice else 'nothing (install espeak-ng)'}.")

    def wire(self, box: Any, chatbot: Any, token: Any) -> None:
        quick: dict[str, Any] = {"api_visibility": "private", "queue": False}
        heard = [box, self.status, self.heard]
        box.upload(self.transcribe_box, [box, token], heard, api_visibility="private",
                   concurrency_limit=2, concurrency_id="transcribe")
        box.stop_recording(None, None, None, js=ATTACH_RECORDING, **quick).then(
            self.transcribe_box, [box, token], heard, api_visibility="private",
            concurrency_limit=2, concurrency_id="transcribe").then(
            None, [self.heard, self.send_spoken], None, js=SEND_IF_ASKED, **quick)
        refused = gr.Button(visible="hidden", elem_id=MIC_REFUSED_ID)
        for failed in (box.clear, refused.click):
            failed(None, None, self.status, js=f"() => {MIC_REFUSED!r}", **quick)
        for new_reply in (box.submit, chatbot.retry, chatbot.edit, chatbot.option_select):
            new_reply(self.live_speech, [self.read_aloud, token], [self.url, self.status],
                      **quick).then(None, self.url, None, js=PLAY, **quick)
        box.stop(None, None, None, js=SILENCE_PLAYER, **quick)
        self.speak.click(self.stored_speech, token, [self.url, self.status], **quick).then(
            None, self.url, None, js=PLAY, **quick)
        audio, spoken = gr.File(visible=False), gr.Textbox(visible=False)
        gr.Button(visible=False).click(self.transcribe_api, [audio, gr.Textbox("", visible=False)],
                                       spoken, api_name="transcribe", concurrency_limit=2,
                                       concurrency_id="transcribe")

    async def _transcribed(self, paths: list[str], token: str, request: gr.Request,
                           keep: bool = False) -> str:
        """The words of the recordings at `paths`; AudioProblem when there are none.
        The recordings are deleted unless kept, attached to a message the chat shows, until
        Gradio's cache expires: only the words are stored."""
        try:
            admitted = await self.limits.admit_async(request,
                                                     self.panel.identity.owner(request, token))
            if isinstance(admitted, str):
                raise AudioProblem(admitted)
            try:
                return " ".join([await self.voice.transcribe(p) for p in paths])
            finally:
                admitted.release()
        finally:
            for path in paths if not keep else ():
                Path(path).unlink(missing_ok=True)

    async def words(self, paths: list[str], request: gr.Request) -> str:
        """The words of a message's recordings, sent with it (ChatTurns.hear)."""
        return await self._transcribed(paths, "", request, keep=True)

    async def transcribe_box(self, value: Any, token: str,
                             request: gr.Request) -> tuple[Any, str, bool]:
        """The message box's recordings and audio files, replaced by their words."""
        files = [str(f) for f in (value or {}).get("files") or []]
        recordings = [f for f in files if is_audio(f)]
        if not recordings:
            return gr.skip(), gr.skip(), False
        others = [f for f in files if f not in recordings]
        text = str((value or {}).get("text") or "").strip()
        try:
            words = await self._transcribed(recordings, token, request)
        except AudioProblem as problem:
            return {"text": text, "files": others}, f"⚠️ {markdown_text(str(problem))}", False
        return {"text": f"{text} {words}".strip(), "files": others}, "", True

    async def transcribe_api(self, audio: str | None, token: str, request: gr.Request) -> str:
        """/transcribe: the words spoken in an audio file."""
        if not audio:
            raise gr.Error("Send an audio file to transcribe.")
        try:
            return await self._transcribed([audio], token, request)
        except AudioProblem as problem:
            raise gr.Error(str(problem)) from None

    async def _ticket(self, token: str, request: gr.Request, texts: Any) -> tuple[str, str]:
        """A link to the speech of `texts`, for the page's audio element, or why not."""
        voice = self.voice.voice
        if voice is None:
            return "", f"⚠️ {NO_VOICE}"
        admitted = await self.limits.admit_async(request,
                                                 self.panel.identity.owner(request, token))
        if isinstance(admitted, str):
            return "", f"⚠️ {markdown_text(admitted)}"
        admitted.release()  # counted as a request; the stream holds no slot
        ticket = self.tickets.issue(voice.sample_rate, lambda: self.voice.spoken(voice, texts))
        return f"{PATH}/{ticket}", ""

    async def live_speech(self, read_aloud: bool, token: str,
                          request: gr.Request) -> tuple[str, str]:
        """The reply just asked for, read aloud as it streams, when the page asks for it."""
        if not read_aloud:
            return "", gr.skip()
        run = await self.runs.next_where(lambda: self.panel.current(token, request), timeout=10)
        if run is None:
            return "", gr.skip()
        return await self._ticket(token, request, texts_of(run))

    async def stored_speech(self, token: str, request: gr.Request) -> tuple[str, str]:
        """The reply clicked last in this chat, else its last one, read aloud."""
        owner, conversation_id = self.panel.current(token, request)
        conversation = await asyncio.to_thread(self.panel.store.get_conversation, owner,
                                               conversation_id) \
            if owner and conversation_id else None
        if conversation is None:
            return "", NOTHING_TO_READ
        picked = self.panel.identity.sessions.get(request.session_hash).picked
        path = conversation.path()
        replies = [m for m in path if m.role == "assistant" and m.content.strip()]
        chosen = next((m for m in replies if m.id == picked), replies[-1] if replies else None)
        if chosen is None:
            return "", NOTHING_TO_READ
        return await self._ticket(token, request, once(chosen.content))
