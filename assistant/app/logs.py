"""Logging for the app: one handler, with every key scrubbed from every record."""

from __future__ import annotations

import logging

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


def configure_logging(secrets: tuple[str, ...]) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for noisy in ("httpx", "httpx2", "httpcore", "httpcore2", "openai"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
