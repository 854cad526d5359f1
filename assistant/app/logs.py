"""Logging for the app: one output, with every key scrubbed from every record, written by
a thread of its own so that a slow stderr (a pipe, a container's log collector) never
holds up the event loop that streams the replies."""

from __future__ import annotations

import logging
import queue
from logging.handlers import QueueHandler, QueueListener
from typing import Callable, TextIO

from ..domain.redaction import redact


class RedactingFilter(logging.Filter):
    """Scrubs keys from every log record that passes through the handler."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message or record.exc_info:
            if record.exc_info:
                formatter = logging.Formatter()
                cleaned += "\n" + redact(formatter.formatException(record.exc_info), self.secrets)
                record.exc_info = None
                record.exc_text = None
            record.msg, record.args = cleaned, None
        return True


NOISY_LOGGERS = ("httpx", "httpx2", "httpcore", "httpcore2", "openai")  # a line per request
SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def configure_logging(secrets: tuple[str, ...], stream: TextIO | None = None
                      ) -> Callable[[], None]:
    """Sets up the root logger (to stderr by default); the function returned writes what
    is still queued and stops the thread."""
    output = logging.StreamHandler(stream)
    output.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    output.addFilter(RedactingFilter(secrets))
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    writer = QueueListener(records, output)
    root = logging.getLogger()
    root.handlers[:] = [QueueHandler(records)]
    root.setLevel(logging.INFO)
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    writer.start()

    stopped = False

    def stop() -> None:  # once; later calls do nothing
        nonlocal stopped
        if not stopped:
            stopped = True
            root.handlers[:] = [output]  # anything later is written at once
            writer.stop()
    return stop


def adopt_server_loggers() -> None:
    """uvicorn's loggers, which it sets up with handlers of their own when the server
    starts, write through the root's instead: scrubbed, and off the event loop."""
    for name in SERVER_LOGGERS:
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.propagate = True
