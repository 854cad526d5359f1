"""The sidebar's Documents panel and the documents API: add, list, search, remove.

Every handler finds the owner the way the chats do (login, else the browser's signed
token), so nobody reaches another owner's documents through the page or the API.
"""

from __future__ import annotations

import asyncio
import time
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr

from ..documents.library import AlreadyAdded, DocumentRefused, Library
from ..storage.records import StoredDocument
from .callers import Identity

NO_OWNER = "Log in, or pass the token your browser keeps, to use your documents."
NONE_YET = "*No documents yet.*"
UNUSED = "Add documents below; until then, nothing is used."


def describe(document: StoredDocument) -> str:
    pages = f"{document.pages} page{'s' * (document.pages != 1)}"
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(document.created))
    return f"{document.name} · {pages} · {document.size / 1000:,.0f} KB · {when}"


def take_upload(path: Path) -> bytes:
    """An uploaded file's bytes; Gradio's copy goes, so removing the document leaves none."""
    data = path.read_bytes()
    path.unlink(missing_ok=True)
    return data


async def add_files(library: Library, owner: str, paths: list[str], *,
                    shown: bool = True) -> list[str]:
    """Adds each file; one line per file saying what happened, for the chat or the panel.

    `shown`: the chat shows the attached files, so Gradio keeps them (its cache ages out).
    """
    lines = []
    for path in paths:
        name = Path(path).name
        try:
            data = await asyncio.to_thread(Path(path).read_bytes if shown else
                                           partial(take_upload, Path(path)))
            document = await library.add(owner, name, data)
        except AlreadyAdded as exc:
            lines.append(f"📄 {exc}")
        except DocumentRefused as exc:
            lines.append(f"⚠️ {exc}")
        except OSError:
            lines.append(f"⚠️ “{name}” could not be read.")
        else:
            lines.append(f"📄 Added {describe(document)}")
    return lines


class DocumentsPanel:
    def __init__(self, library: Library, identity: Identity) -> None:
        self.library = library
        self.identity = identity

    def owner(self, request: gr.Request | None, token: str) -> str:
        """The API caller's owner: without one there are no documents to reach."""
        owner = self.identity.owner(request, token)
        if owner is None:
            raise gr.Error(NO_OWNER)
        return owner

    def render(self) -> None:
        with gr.Accordion("Documents", open=False):
            self.use_documents = gr.Checkbox(
                label="Answer from my documents", value=True, info=UNUSED)
            self.upload = gr.File(label="Add documents (PDF, Markdown, text, HTML)",
                                  file_count="multiple", height=90)
            self.listing = gr.Markdown(NONE_YET, elem_id="documents-list")
            with gr.Row():
                self.chosen = gr.Dropdown(label="Document", choices=[], scale=3)
                self.remove = gr.Button("Remove", size="sm", variant="stop", scale=1)

    def wire(self, demo: gr.Blocks, token: gr.components.Component) -> None:
        self.shown = shown = [self.listing, self.chosen, self.use_documents]
        private: dict[str, Any] = {"api_visibility": "private"}
        self.upload.upload(self._upload, [self.upload, token], [*shown, self.upload, token],
                           **private)
        self.remove.click(self._remove, [self.chosen, token], shown, **private)
        self._register_api()

    def refresh(self, owner: str | None) -> tuple[Any, ...]:
        documents = self.library.documents(owner) if owner else []
        listing = "\n".join(f"- {describe(d)}" for d in documents) or NONE_YET
        names = ", ".join(d.name for d in documents)
        info = f"Uses: {names}." if names else UNUSED
        return (listing, gr.update(choices=[(d.name, d.id) for d in documents], value=None),
                gr.update(info=info))

    def restore(self, token: str, request: gr.Request) -> tuple[Any, ...]:
        return self.refresh(self.identity.owner(request, token))

    async def _upload(self, files: list[Any] | None, token: str,
                      request: gr.Request) -> tuple[Any, ...]:
        owner = self.identity.owner_or_new(request, token)
        lines = await add_files(self.library, owner, [str(f) for f in files or ()], shown=False)
        shown = await asyncio.to_thread(self.refresh, owner)
        for line in lines:
            (gr.Warning if line.startswith("⚠️") else gr.Info)(line)
        return (*shown, None, self.identity.page_token(request, token))

    def _remove(self, document_id: str | None, token: str, request: gr.Request) -> tuple[Any, ...]:
        owner = self.identity.owner(request, token)
        if document_id and owner:
            self.library.remove(owner, document_id)
        return self.refresh(owner)

    def _register_api(self) -> None:
        library = self.library

        def list_documents(token: str = "", request: gr.Request = None) -> list[dict[str, Any]]:
            """Your documents, oldest first."""
            return [{"id": d.id, "name": d.name, "kind": d.kind, "size": d.size,
                     "pages": d.pages, "passages": d.passages, "created": d.created}
                    for d in library.documents(self.owner(request, token))]

        async def search_documents(query: str, k: int = 5, token: str = "",
                                   request: gr.Request = None) -> list[dict[str, Any]]:
            """The passages of your documents that best match `query`."""
            found = await library.search(self.owner(request, token), str(query),
                                         max(1, min(int(k), 20)))
            return [{"passage_id": p.id, "document_id": p.document_id, "name": p.document_name,
                     "page": p.page, "heading": p.heading, "text": p.text} for p in found]

        def remove_document(document_id: str, token: str = "", request: gr.Request = None) -> bool:
            """Removes one of your documents and its passages for good; False if none."""
            return library.remove(self.owner(request, token), str(document_id))

        def read_passage(passage_id: int, token: str = "",
                         request: gr.Request = None) -> dict[str, Any]:
            """One passage of yours with the text around it, as a source opens."""
            found = library.passage(self.owner(request, token), int(passage_id))
            if found is None:
                raise gr.Error("No such passage.")
            passage, around = found
            return {"passage_id": passage.id, "name": passage.document_name, "page": passage.page,
                    "heading": passage.heading, "text": passage.text,
                    "context": [p.text for p in around]}

        for endpoint in (list_documents, search_documents, remove_document, read_passage):
            gr.api(endpoint, api_name=endpoint.__name__, queue=False)

        async def add_document(file: Any, token: str, request: gr.Request) -> dict[str, Any]:
            owner = self.owner(request, token)
            path = Path(str(file))
            try:
                data = await asyncio.to_thread(take_upload, path)
                document = await library.add(owner, path.name, data)
            except AlreadyAdded as exc:
                document = exc.document  # adding is idempotent for scripts
            except DocumentRefused as exc:
                raise gr.Error(str(exc)) from None
            return {"id": document.id, "name": document.name, "kind": document.kind,
                    "pages": document.pages, "passages": document.passages}

        # The token's "" makes it optional to clients: signed-in callers need none.
        file, token = gr.File(visible=False), gr.Textbox("", visible=False)
        gr.Button(visible=False).click(add_document, [file, token], gr.JSON(visible=False),
                                       api_name="add_document")
