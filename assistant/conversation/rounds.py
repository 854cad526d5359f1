"""Tool rounds: run the calls a model asks for, send the results back, stream the answer.

Wraps any adapter the way httpx's redirect loop wraps a request: text and reasoning
pass through as they come; a round that ends in tool calls gives step events, runs
the calls concurrently (each with its own timeout), adds the calls and their results
to the request, and asks again, up to `max_rounds` times.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import replace

from ..domain.events import (
    APPROVED,
    Approval,
    Event,
    Failed,
    Finished,
    HandedBack,
    TextDelta,
    ToolApproval,
    ToolCalls,
    ToolFinished,
    ToolsOff,
    ToolStarted,
)
from ..domain.failures import Failure
from ..domain.messages import Message, ModelRequest, Text, ToolCall, ToolResult, ToolSpec
from ..providers.base import Adapter
from ..tools.registry import Toolbox, ToolScope
from .untrusted import marked_result, with_data_rule_in

MAX_ROUNDS = 8


def too_many_rounds(rounds: int) -> Failure:
    return Failure("tool_rounds", f"The model kept calling tools, so it was stopped after "
                   f"{rounds} rounds of tool calls.")


class ToolRounds:
    """One per app; remembers which models refused a request with tools."""

    def __init__(self, toolbox: Toolbox, max_rounds: int = MAX_ROUNDS) -> None:
        self.toolbox = toolbox
        self.max_rounds = max_rounds
        self.no_tools: set[str] = set()  # models whose server answered 400 to `tools`

    def uses_tools(self, model: str, tools: Sequence[ToolSpec]) -> bool:
        return bool(tools) and model not in self.no_tools

    def stream(self, adapter: Adapter, request: ModelRequest,
               scope: ToolScope | None = None) -> AsyncGenerator[Event, None]:
        if not self.uses_tools(request.model, request.tools):
            return adapter.stream(replace(request, tools=()))
        return self._rounds(adapter, request, scope or ToolScope())

    async def _rounds(self, adapter: Adapter, request: ModelRequest, scope: ToolScope
                      ) -> AsyncGenerator[Event, None]:
        messages = list(request.messages)
        for done in range(self.max_rounds + 1):
            text: list[str] = []
            calls: tuple[ToolCall, ...] = ()
            attempt = replace(request, messages=tuple(messages))
            async with aclosing(adapter.stream(attempt)) as events:
                async for event in events:
                    if isinstance(event, Failed) and not text and self._refused_tools(event, attempt):
                        self.no_tools.add(request.model)
                        yield ToolsOff(request.model)
                        async for plain in adapter.stream(replace(attempt, tools=())):
                            yield plain
                        return
                    if isinstance(event, ToolCalls):
                        calls = event.calls
                        continue
                    if isinstance(event, Finished) and calls:
                        continue  # the reply goes on after the tools
                    if isinstance(event, TextDelta):
                        text.append(event.text)
                    yield event
            if not calls:
                return
            handed = _handed_back(calls, request)
            if handed:  # the caller runs its own tools; the server's of this round do not run
                yield HandedBack(handed)
                yield Finished("tool_calls")
                return
            if done == self.max_rounds:
                yield Failed(too_many_rounds(done))
                return
            if scope.cleared is not None and not await scope.cleared():
                return
            results: list[ToolResult] = []
            async for event in self._run(calls, done, scope):
                if isinstance(event, ToolFinished):
                    results.append(event.result)
                yield event
            order = {call.call_id: i for i, call in enumerate(calls)}
            results.sort(key=lambda r: order.get(r.call_id, 0))
            messages = with_data_rule_in(messages) + [
                Message("assistant", (*((Text("".join(text)),) if text else ()), *calls)),
                Message("tool", tuple(map(marked_result, results)))]

    @staticmethod
    def _refused_tools(event: Failed, request: ModelRequest) -> bool:
        """A 400 about tools: vLLM, Ollama and llama.cpp's servers all name them."""
        failure = event.failure  # an API caller's own tools may be what the server refused
        return bool(request.tools) and not any(t.client for t in request.tools) \
            and failure.status in (400, 422) \
            and "tool" in failure.message.lower()

    async def _run(self, calls: tuple[ToolCall, ...], round_: int, scope: ToolScope
                   ) -> AsyncGenerator[Event, None]:
        """Starts every call at once, but each call to a tool that asks first only once the
        user allows it (one question at a time); yields each as it starts and as it ends."""
        for call in calls:
            yield ToolStarted(call, round_)
        started = time.monotonic()
        asking = [(call, tool) for call in calls
                  if (tool := self.toolbox.get(call.name)) is not None and tool.asks]
        asked = {call.call_id for call, _ in asking}
        tasks = [asyncio.ensure_future(self.toolbox.run(call, scope)) for call in calls
                 if call.call_id not in asked]
        question: asyncio.Future[Approval] | None = None
        try:
            unanswered = False  # after one question times out, nobody is there to ask
            for call, tool in asking:
                approver = None if unanswered else scope.approve
                state = await approver.answered(call, tool) if approver is not None \
                    else "timed out" if unanswered else "denied"
                if state is None and approver is not None:
                    question = approver.ask(call, tool)
                    yield ToolApproval(call.call_id, "pending", tool.source)
                    state = await question
                state = state or "denied"
                unanswered = unanswered or state == "timed out"
                yield ToolApproval(call.call_id, state, tool.source)
                if state in APPROVED:
                    tasks.append(asyncio.ensure_future(self.toolbox.run(call, scope)))
                else:
                    yield ToolFinished(refused(call, state), time.monotonic() - started)
            for finished in asyncio.as_completed(tasks):
                result = await finished
                yield ToolFinished(result, time.monotonic() - started)
        finally:  # Stop: cancel the question and the tools still running
            if question is not None:
                question.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


def _handed_back(calls: tuple[ToolCall, ...], request: ModelRequest) -> tuple[ToolCall, ...]:
    """The calls to the API caller's own tools."""
    client = {spec.name for spec in request.tools if spec.client}
    return tuple(call for call in calls if call.name in client) if client else ()


def refused(call: ToolCall, state: Approval) -> ToolResult:
    """What the model is told of a call the user did not allow."""
    why = "did not answer in time" if state == "timed out" else "refused to allow it"
    return ToolResult(call.call_id, call.name, f"Error: the user {why}, so the tool did not "
                      "run. Do not call it again for this request unless the user asks.",
                      failed=True)
