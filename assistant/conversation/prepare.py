"""What a turn sends: the message and options checked, the context built from the
history, with memories, documents and tools, as one model request and the reply it
starts; or, in a sentence, why nothing can be sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Sequence

from ..domain.failures import NO_IMAGES
from ..domain.messages import Image, Message, ModelRequest, ToolSpec
from ..domain.reply import Charge, Place, Reply
from ..domain.sources import SEARCH_TOOL, Source
from ..domain.validation import InvalidInput, check_message, check_options
from ..providers.backends import BackendUnavailable
from ..providers.models import model_info
from ..providers.routes import Route
from .grounding import PASSAGES, DocumentSearch, passages_budget, with_passages
from .history import DoesNotFit, build_messages, prepare_turn
from .rounds import ToolRounds
from .untrusted import with_data_rule


@dataclass(frozen=True)
class Notice:
    """Something to say about a turn that is not its reply."""
    kind: Literal["invalid", "retrying", "unavailable"]
    message: str


@dataclass(frozen=True)
class TurnOptions:
    model: str | None = None
    temperature: float = 0.7
    system_prompt: str = ""
    history_turns: int = 10
    max_tokens: int = 1024
    api: str | None = None  # an adapter's name; None: the backend's default
    tools: tuple[str, ...] = ()  # the tools the model may call, by name
    documents: bool = False  # answer from the owner's documents, if they have any
    client_tools: tuple[ToolSpec, ...] = ()  # an API caller's own, handed back when called


@dataclass(frozen=True)
class Prepared:
    reply: Reply
    request: ModelRequest
    shown_chars: int  # the text the page already shows: it paces the updates


def with_memories(system_prompt: str, memories: Sequence[str]) -> str:
    if not memories:
        return system_prompt
    facts = "\n".join(f"- {fact}" for fact in memories)
    return f"{system_prompt}\n\nFacts the user asked you to remember:\n{facts}".strip()


class TurnPreparer:
    def __init__(self, rounds: ToolRounds, *, max_message_chars: int,
                 documents: DocumentSearch | None = None, earlier_images: int = 4) -> None:
        self.rounds = rounds
        self.max_message_chars = max_message_chars
        self.documents = documents
        self.earlier_images = earlier_images  # resent to models known to read images

    async def prepare(self, message: Any, history: Sequence[Message], options: TurnOptions,
                      route: Route, *, memories: Sequence[str], images: Sequence[Image],
                      place: Place, charge: Charge | None, continues: bool,
                      shown_chars: int | None, model: str | None = None
                      ) -> Prepared | Notice | None:
        """None: nothing to answer, so nothing is sent. `model`: the model's name on the
        route's backend, when the options name it otherwise ("Auto", "backend/model")."""
        backend = route.backend
        try:
            text = "" if continues else check_message(message, self.max_message_chars)
            if not text.strip() and not images and not continues:
                return None
            checked = check_options(options.model, options.temperature, options.system_prompt,
                                    options.history_turns, options.max_tokens)
            api = self._api(options.api, route)
            owner = place.owner
            grounded = bool(options.documents and owner and self.documents is not None
                            and await self.documents.has_documents(owner))
            tools = (*self._tools([n for n in options.tools if grounded or n != SEARCH_TOOL]),
                     *options.client_tools)
            past, user_text = prepare_turn(history, text, continues)
            model_name = await backend.resolve_model(model or checked.model)
            if images and backend.sees_images(model_name) is False:
                raise InvalidInput(NO_IMAGES.message)
            context_window = backend.context_window_for(model_name)
            resent = self.earlier_images if backend.sees_images(model_name) is True else 0
            system_prompt = with_memories(checked.system_prompt, memories)
            sources: list[Source] = []
            searched = any(t.name == SEARCH_TOOL for t in tools) and \
                self.rounds.uses_tools(model_name, tools)
            if grounded and not searched and self.documents is not None and owner:
                query = past[-1].user if continues and past else user_text or ""
                found = await self.documents.search(owner, query, PASSAGES)
                system_prompt = with_passages(system_prompt, found,
                                              passages_budget(context_window), sources)
            if sources or any(e.tool_parts for e in past):  # data from documents or tools
                system_prompt = with_data_rule(system_prompt)
            messages = build_messages(
                system_prompt=system_prompt, history=past,
                user_message=user_text, history_turns=checked.history_turns,
                max_tokens=checked.max_tokens, context_window=context_window, images=images,
                earlier_images=resent)
        except InvalidInput as exc:
            return Notice("invalid", str(exc))
        except DoesNotFit as exc:
            return Notice("invalid", f"This message is too long for the model: {exc}.")
        except BackendUnavailable as exc:
            return Notice("unavailable", f"The model is unavailable: {exc}.")

        info = model_info(model_name)
        reply = Reply(backend=backend.name, model=model_name, options=checked,
                      user_message=text, api=api, sources=sources, images=tuple(images),
                      place=place, charge=charge)
        request = ModelRequest(model_name, messages, checked.temperature, checked.max_tokens,
                               reasoning=bool(info and info.reasoning), tools=tools)
        shown = shown_chars if shown_chars is not None else \
            sum(len(e.user) + len(e.assistant) for e in past)
        return Prepared(reply, request, shown)

    def _api(self, requested: str | None, route: Route) -> str:
        if not requested:
            return route.backend.default_api
        if requested not in route.adapters:
            raise InvalidInput(f"The API must be one of: {', '.join(route.adapters)} "
                               f"(it is “{requested}”).")
        return requested

    def _tools(self, names: Sequence[str]) -> tuple[ToolSpec, ...]:
        names = [n for n in names or () if n]
        toolbox = self.rounds.toolbox
        unknown = [n for n in names if toolbox.get(n) is None and n not in toolbox.unavailable]
        if unknown:
            raise InvalidInput(f"Unknown tool: {', '.join(unknown)}. Choose tools from the "
                               "Tools list in the sidebar.")
        return self.rounds.toolbox.specs(names)
