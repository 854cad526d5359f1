"""Files attached to a chat message: images go to the model, documents to the library."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable, Sequence

from gradio.utils import get_upload_folder

from ..conversation.images import ImageRejected, check_images, prepare_image
from ..documents.library import Library
from ..documents.reading import sniff
from ..domain.messages import Image
from .chatbot_history import history_files
from .documents_panel import add_files
from .render import SourceLink, notice
from .source_links import SourceLinks

IMAGE_KINDS = ("png", "jpeg", "gif", "webp")
CACHED_IMAGES = 64  # prepared images of earlier messages, by path


class Attachments:
    def __init__(self, library: Library, links: SourceLinks, *, max_side: int, max_bytes: int,
                 max_images: int, folders: Sequence[Path] = ()) -> None:
        self.library = library
        # Where earlier images may be read from: Gradio's uploads, and `folders`.
        self.folders = [Path(f).resolve() for f in (Path(get_upload_folder()), *folders)]
        self.links = links
        self.max_side = max_side
        self.max_bytes = max_bytes
        self.max_images = max_images
        self._earlier: OrderedDict[str, Image | None] = OrderedDict()

    @staticmethod
    def split(message: Any) -> tuple[Any, list[str]]:
        """The text and the file paths of a message: a string, or {"text", "files"}."""
        if isinstance(message, dict):
            files = [str(f.get("path") if isinstance(f, dict) else f)
                     for f in message.get("files") or ()]
            return message.get("text") or "", files
        return message, []

    async def take(self, owner: str | None, paths: list[str]) -> tuple[list[Image], list[Any]]:
        """The images to send, and a notice for each document added or file refused."""
        images: list[Image] = []
        said: list[Any] = []
        documents: list[str] = []
        for path in paths:
            name = Path(path).name
            try:
                head = await asyncio.to_thread(_head, path)
            except OSError:
                said.append(_note(f"⚠️ “{name}” could not be read."))
                continue
            if sniff(head) not in IMAGE_KINDS:
                documents.append(path)
                continue
            try:
                check_images(len(images) + 1, self.max_images)
                data = await asyncio.to_thread(Path(path).read_bytes)
                images.append(await asyncio.to_thread(prepare_image, data, name,
                                                      max_side=self.max_side,
                                                      max_bytes=self.max_bytes))
            except ImageRejected as exc:
                said.append(_note(f"⚠️ {exc}"))
        if documents and owner is None:
            said.append(_note("⚠️ Documents need a signed-in or remembered browser; "
                              "reload the page and try again."))
        elif documents and owner is not None:
            said += [_note(line) for line in await add_files(self.library, owner, documents)]
        return images, said

    async def earlier_images(self, history: Iterable[Any]) -> dict[str, Image]:
        """The images users sent earlier in `history`, by path, prepared once and then cached.

        Only files in `folders` (Gradio's uploads, the reopened chats' images) are read.
        """
        found: dict[str, Image] = {}
        for path in dict.fromkeys(history_files(history)):
            if path not in self._earlier:
                self._earlier[path] = await asyncio.to_thread(self._prepare, path)
                if len(self._earlier) > CACHED_IMAGES:
                    self._earlier.popitem(last=False)
            image = self._earlier.get(path)
            if image is not None:
                found[path] = image
        return found

    def _prepare(self, path: str) -> Image | None:
        try:
            file = Path(path).resolve()
            if not any(file.is_relative_to(folder) for folder in self.folders):
                return None
            data = file.read_bytes()
            if sniff(data[:2048]) not in IMAGE_KINDS:
                return None
            return prepare_image(data, file.name, max_side=self.max_side, max_bytes=self.max_bytes)
        except (OSError, ImageRejected):
            return None

    def source_link(self, owner: str | None) -> SourceLink | None:
        if owner is None:
            return None
        return lambda source: self.links.url(owner, source.passage_id)


def _head(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read(2048)


def _note(title: str) -> dict[str, Any]:
    return notice(title, notice_id="attachment")
