"""The embedded model's server process: llama-cpp-python's OpenAI-compatible server, reading ahead.

    python -m assistant.providers.local.server --model PATH ...   # llama_cpp.server's options

llama_cpp.server asks a worker thread for one token at a time, so the model idles while
the event loop sends each token on. Here one thread per reply computes tokens back to
back into a queue that the loop drains: +3 to +8% tokens/s on 2 cores (bench/embedded.py).
"""

from __future__ import annotations

import asyncio
import threading
from typing import AsyncIterator, Iterable, TypeVar

T = TypeVar("T")

# A reply's thread may run one token on after its reader has gone (Stop, a closed tab);
# this keeps the next reply off the model until it has.
_model_in_use = threading.Lock()
_END = object()


async def read_ahead(iterator: Iterable[T]) -> AsyncIterator[T]:
    """What llama_cpp.server's `iterate_in_threadpool` yields, computed ahead of the reader."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    reader_gone = threading.Event()

    def hand_over(item: object) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, item)
        except RuntimeError:  # the event loop has closed: the server is shutting down
            reader_gone.set()

    def compute() -> None:
        with _model_in_use:
            items = iter(iterator)
            try:
                for item in items:
                    if reader_gone.is_set():
                        break
                    hand_over(item)
                else:
                    hand_over(_END)
            except Exception as exc:
                hand_over(exc)
            finally:
                close = getattr(items, "close", None)
                if close is not None:
                    close()

    threading.Thread(target=compute, name="model-read-ahead", daemon=True).start()
    try:
        while (item := await queue.get()) is not _END:
            if isinstance(item, Exception):
                raise item
            yield item  # type: ignore[misc]
    finally:
        reader_gone.set()


def main() -> None:
    import llama_cpp.server.app as llama_server_app
    from llama_cpp.server.__main__ import main as serve

    llama_server_app.iterate_in_threadpool = read_ahead  # type: ignore[attr-defined]
    serve()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()
