"""An API request read into our terms: the conversation as our messages, the options, the
caller's own tools. Anything malformed is a 400 that names its `param`."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from ..domain.messages import Image, Message, Part, Role, Text, ToolCall, ToolResult, ToolSpec
from ..domain.validation import clean_text
from .errors import ApiError, bad_input

IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")
_DATA_URL = re.compile(r"data:(image/[a-z+.-]+);base64,(.*)", re.DOTALL)
MAX_TOOLS = 128


@dataclass(frozen=True)
class ApiRequest:
    model: str
    history: list[Message]  # before the new message
    text: str  # the new message ("" when the request ends with tool results)
    images: tuple[Image, ...] = ()
    answers_tools: bool = False  # it ends with the results of the caller's own tools
    system: str = ""
    temperature: float | None = None
    max_tokens: int | None = None
    client_tools: tuple[ToolSpec, ...] = ()
    stream: bool = False
    include_usage: bool = False
    metadata: Mapping[str, str] = field(default_factory=dict)


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_input("The request body must be a JSON object.", None)
    return body


def parse_json(raw: bytes) -> dict[str, Any]:
    try:
        return _object(json.loads(raw or b"null"))
    except (ValueError, UnicodeDecodeError):
        raise bad_input("The request body is not valid JSON.", None) from None


def _model(body: Mapping[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise bad_input("'model' is required: one of the ids /v1/models lists.", "model")
    return model.strip()


def _number(body: Mapping[str, Any], name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise bad_input(f"'{name}' must be a number from {low:g} to {high:g}.", name)
    return float(value)


def _whole(body: Mapping[str, Any], *names: str) -> int | None:
    for name in names:
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise bad_input(f"'{name}' must be a whole number of at least 1.", name)
        return value
    return None


def _flag(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad_input(f"'{name}' must be true or false.", name)
    return value


def _metadata(body: Mapping[str, Any]) -> dict[str, str]:
    value = body.get("metadata") or {}
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise bad_input("'metadata' must be an object of strings.", "metadata")
    return value


def _image(url: Any, param: str, max_bytes: int) -> Image:
    match = _DATA_URL.fullmatch(url) if isinstance(url, str) else None
    if match is None:
        raise bad_input("Images must be sent as data: URLs (base64); this server fetches no "
                        "outside address.", param)
    media_type = match.group(1)
    if media_type not in IMAGE_TYPES:
        raise bad_input(f"Images must be one of {', '.join(IMAGE_TYPES)}.", param)
    try:
        data = base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        raise bad_input("The image's base64 data is not valid.", param) from None
    if len(data) > max_bytes:
        raise bad_input(f"The image is larger than {max_bytes / 1e6:g} MB.", param)
    return Image(media_type, data)


def _content(content: Any, param: str, max_bytes: int,
             image_url: Callable[[Mapping[str, Any]], Any]) -> tuple[str, tuple[Image, ...]]:
    """A message's text and images, from a string or a list of parts."""
    if content is None:
        return "", ()
    if isinstance(content, str):
        return clean_text(content), ()
    if not isinstance(content, list):
        raise bad_input("A message's content must be a string or a list of parts.", param)
    texts: list[str] = []
    images: list[Image] = []
    for j, part in enumerate(content):
        where = f"{param}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("text", "input_text", "output_text") and isinstance(part.get("text"), str):
            texts.append(clean_text(part["text"]))
        elif kind in ("image_url", "input_image") and isinstance(part, dict):
            images.append(_image(image_url(part), where, max_bytes))
        else:
            raise bad_input("Each part must be text or an image.", where)
    return "".join(texts), tuple(images)


def _chat_image_url(part: Mapping[str, Any]) -> Any:
    inner = part.get("image_url")
    return inner.get("url") if isinstance(inner, dict) else inner


def _responses_image_url(part: Mapping[str, Any]) -> Any:
    return part.get("image_url")


def _tool_spec(name: Any, description: Any, parameters: Any, param: str) -> ToolSpec:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
        raise bad_input("A tool's name must be 1-64 letters, digits, '_' or '-'.", param)
    if parameters is not None and not isinstance(parameters, dict):
        raise bad_input("A tool's parameters must be a JSON schema object.", param)
    return ToolSpec(name, clean_text(description or ""),
                    parameters or {"type": "object", "properties": {}}, client=True)


def _tools(body: Mapping[str, Any], flat: bool) -> tuple[ToolSpec, ...]:
    """The caller's tools: Chat Completions nests each under "function", Responses not."""
    tools = body.get("tools") or []
    if not isinstance(tools, list) or len(tools) > MAX_TOOLS:
        raise bad_input(f"'tools' must be a list of at most {MAX_TOOLS} tools.", "tools")
    choice = body.get("tool_choice")
    if choice == "none":
        return ()
    if choice not in (None, "auto"):  # the model is never forced here: say so, not ignore it
        raise bad_input("'tool_choice' may be 'auto' or 'none' here: the assistant does not "
                        "force a tool call.", "tool_choice")
    specs: list[ToolSpec] = []
    for i, tool in enumerate(tools):
        param = f"tools[{i}]"
        if not isinstance(tool, dict) or tool.get("type") != "function":
            raise bad_input("Only tools of type 'function' are supported.", param)
        spec = tool if flat else tool.get("function")
        if not isinstance(spec, dict):
            raise bad_input("A function tool needs its 'function' object.", param)
        specs.append(_tool_spec(spec.get("name"), spec.get("description"),
                                spec.get("parameters"), param))
    if len({s.name for s in specs}) < len(specs):
        raise bad_input("Two tools have the same name.", "tools")
    return tuple(specs)


class _Conversation:
    """Builds our messages from either protocol's items, in order."""

    def __init__(self) -> None:
        self.system: list[str] = []
        self.messages: list[Message] = []
        self.names: dict[str, str] = {}  # call id -> tool name

    def add(self, role: Role, parts: tuple[Part, ...]) -> None:
        if self.messages and self.messages[-1].role == role and role in ("assistant", "tool"):
            last = self.messages[-1]
            self.messages[-1] = Message(role, (*last.parts, *parts))
        else:
            self.messages.append(Message(role, parts))

    def call(self, call_id: Any, name: Any, arguments: Any, param: str) -> None:
        if not isinstance(call_id, str) or not isinstance(name, str):
            raise bad_input("A tool call needs its id and name.", param)
        self.names[call_id] = name
        self.add("assistant", (ToolCall(call_id, name, arguments if isinstance(arguments, str)
                                        else json.dumps(arguments)),))

    def result(self, call_id: Any, output: Any, param: str) -> None:
        if not isinstance(call_id, str) or call_id not in self.names:
            raise bad_input("A tool result must answer an earlier tool call, by its id.", param)
        text = output if isinstance(output, str) else json.dumps(output)
        self.add("tool", (ToolResult(call_id, self.names[call_id], clean_text(text)),))

    def request(self, body: Mapping[str, Any], param: str, **options: Any) -> ApiRequest:
        """The conversation ends with the new message, or with tool results to answer."""
        if not self.messages:
            raise bad_input("The request has no message from the user.", param)
        last = self.messages[-1]
        if last.role == "tool":
            return ApiRequest(history=self.messages, text="", answers_tools=True,
                              system="\n\n".join(self.system), **options)
        if last.role != "user":
            raise bad_input("The last message must be the user's, or tool results.", param)
        return ApiRequest(history=self.messages[:-1], text=last.text, images=last.images,
                          system="\n\n".join(self.system), **options)


def _options(body: Mapping[str, Any], flat_tools: bool, *tokens: str) -> dict[str, Any]:
    text = body.get("text")  # Responses' place for it
    shape = body.get("response_format") or (text.get("format") if isinstance(text, dict) else None)
    if isinstance(shape, dict) and shape.get("type") not in (None, "text"):
        param = "response_format" if "response_format" in body else "text.format"
        raise bad_input(f"Only plain text replies are supported ('{param}' of type 'text').",
                        param)
    return dict(model=_model(body), temperature=_number(body, "temperature", 0, 2),
                max_tokens=_whole(body, *tokens), client_tools=_tools(body, flat_tools),
                stream=_flag(body, "stream"), metadata=_metadata(body))


def chat_request(body: dict[str, Any], max_image_bytes: int) -> ApiRequest:
    """POST /v1/chat/completions."""
    if body.get("n") not in (None, 1):
        raise bad_input("Only one choice ('n': 1) is supported.", "n")
    options = _options(body, False, "max_completion_tokens", "max_tokens")
    stream_options = body.get("stream_options") or {}
    options["include_usage"] = isinstance(stream_options, dict) and \
        stream_options.get("include_usage") is True
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_input("'messages' must be a non-empty list.", "messages")
    conversation = _Conversation()
    for i, message in enumerate(messages):
        param = f"messages[{i}]"
        role = message.get("role") if isinstance(message, dict) else None
        if not isinstance(message, dict) or role not in (
                "system", "developer", "user", "assistant", "tool"):
            raise bad_input("Each message needs a role: system, developer, user, assistant "
                            "or tool.", param)
        if role == "tool":
            conversation.result(message.get("tool_call_id"), message.get("content"), param)
            continue
        text, images = _content(message.get("content"), f"{param}.content", max_image_bytes,
                                _chat_image_url)
        if role in ("system", "developer"):
            conversation.system.append(text)
        elif role == "user":
            conversation.add("user", (*((Text(text),) if text else ()), *images))
        else:
            conversation.add("assistant", (Text(text),) if text else ())
            for j, call in enumerate(message.get("tool_calls") or []):
                function = call.get("function") if isinstance(call, dict) else None
                if not isinstance(function, dict):
                    raise bad_input("A tool call needs its function.", f"{param}.tool_calls[{j}]")
                conversation.call(call.get("id"), function.get("name"),
                                  function.get("arguments"), f"{param}.tool_calls[{j}]")
    return conversation.request(body, "messages", **options)


def responses_request(body: dict[str, Any], max_image_bytes: int) -> ApiRequest:
    """POST /v1/responses."""
    if body.get("previous_response_id") or body.get("conversation"):
        raise bad_input("This server keeps no responses by id: send the conversation in "
                        "'input', or save it as a chat with metadata 'assistant_chat'.",
                        "previous_response_id" if body.get("previous_response_id")
                        else "conversation")
    options = _options(body, True, "max_output_tokens")
    options["include_usage"] = True
    conversation = _Conversation()
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise bad_input("'instructions' must be a string.", "instructions")
    if instructions:
        conversation.system.append(clean_text(instructions))
    items = body.get("input")
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    if not isinstance(items, list) or not items:
        raise bad_input("'input' must be a string or a non-empty list of items.", "input")
    for i, item in enumerate(items):
        param = f"input[{i}]"
        kind = item.get("type", "message") if isinstance(item, dict) else None
        if not isinstance(item, dict):
            raise bad_input("Each input item must be an object.", param)
        if kind == "function_call":
            conversation.call(item.get("call_id"), item.get("name"), item.get("arguments"),
                              param)
        elif kind == "function_call_output":
            conversation.result(item.get("call_id"), item.get("output"), param)
        elif kind in ("reasoning", "mcp_call"):
            continue  # the model's own thoughts, and server steps already answered
        elif kind == "message" and item.get("role") in ("system", "developer", "user",
                                                         "assistant"):
            text, images = _content(item.get("content"), f"{param}.content", max_image_bytes,
                                    _responses_image_url)
            role = str(item["role"])
            if role in ("system", "developer"):
                conversation.system.append(text)
            elif role == "user":
                conversation.add("user", (*((Text(text),) if text else ()), *images))
            elif text:
                conversation.add("assistant", (Text(text),))
        else:
            raise bad_input("Unsupported input item: use messages, function_call and "
                            "function_call_output.", param)
    return conversation.request(body, "input", **options)


__all__ = ["ApiError", "ApiRequest", "chat_request", "parse_json", "responses_request"]
