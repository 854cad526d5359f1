"""Failures as values: a stable kind for logs and metrics, and the sentence a user reads."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Failure:
    kind: str  # a stable short name, used in logs and metrics
    message: str  # what the user reads
    retryable: bool = False  # only ever before the first token
    retry_after: float | None = None  # what the server asked for, in seconds
    status: int | None = None


FINISH_FAILURES = {
    "length": Failure("length", "The reply reached the maximum output length."),
    "content_filter": Failure("content_filter",
                              "The model server's content filter stopped the reply."),
}
TRUNCATED = Failure("truncated", "The reply ended without the server saying it was finished.")
EMPTY = Failure("empty", "The model server sent an empty reply.")
MALFORMED = Failure("malformed", "The model server sent a malformed reply.")
TOOLS_ONLY = Failure("tool_calls", "The model asked to use a tool instead of answering, "
                     "and no tools are switched on for it.")
STREAM_UNSUPPORTED = Failure("stream_unsupported", "The model server cannot stream.")
NO_IMAGES = Failure("no_images", "This model cannot read images. Choose a model that can, "
                    "or send the message without them.")
OWN_KEY_REJECTED = ("The model server rejected your API key (401). Check the key you entered "
                    "in the sidebar, or clear it to use the server's.")
