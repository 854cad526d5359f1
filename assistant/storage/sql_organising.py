"""Pins and folders: how an owner arranges their chat list (SQL for both databases)."""

from __future__ import annotations

import time

from .records import Folder, check_owner, clean_title, new_conversation_id
from .sql_dialect import Conn, Dialect


class ChatOrganising:
    """Mixed into SQLStore. A chat is in one folder at most; deleting a folder keeps its
    chats, outside any folder. Pinning or moving a chat does not change its "updated"."""

    _sql: Dialect

    def set_pinned(self, owner: str, conversation_id: str, pinned: bool) -> bool:
        return self._sql.db.write(lambda conn: self._changed(
            conn, "UPDATE conversations SET pinned = ? WHERE id = ? AND owner = ?",
            bool(pinned), conversation_id, check_owner(owner)))

    def create_folder(self, owner: str, name: str) -> str:
        """The id of the owner's folder called `name`, made if there is none yet."""
        name, owner = _folder_name(name), check_owner(owner)

        def run(conn: Conn) -> str:
            found = self._sql.execute(conn, "SELECT id FROM folders WHERE owner = ? AND name = ?",
                                      owner, name).fetchone()
            if found is not None:
                return str(found[0])
            folder_id = new_conversation_id()
            self._sql.execute(conn, "INSERT INTO folders (id, owner, name, created)"
                              " VALUES (?, ?, ?, ?)", folder_id, owner, name, time.time())
            return folder_id
        return self._sql.db.write(run)

    def list_folders(self, owner: str) -> list[Folder]:
        """By name."""
        with self._sql.db.read() as conn:
            return [Folder(*row) for row in self._sql.execute(
                conn, "SELECT id, name, created FROM folders WHERE owner = ? ORDER BY name, id",
                check_owner(owner)).fetchall()]

    def rename_folder(self, owner: str, folder_id: str, name: str) -> bool:
        name = _folder_name(name)
        return self._sql.db.write(lambda conn: self._changed(
            conn, "UPDATE folders SET name = ? WHERE id = ? AND owner = ?",
            name, folder_id, check_owner(owner)))

    def delete_folder(self, owner: str, folder_id: str) -> bool:
        """Deletes the folder; its chats stay, outside any folder."""
        owner = check_owner(owner)

        def run(conn: Conn) -> bool:
            self._sql.execute(conn, "UPDATE conversations SET folder_id = NULL"
                              " WHERE folder_id = ? AND owner = ?", folder_id, owner)
            return self._changed(conn, "DELETE FROM folders WHERE id = ? AND owner = ?",
                                 folder_id, owner)
        return self._sql.db.write(run)

    def move_conversation(self, owner: str, conversation_id: str,
                          folder_id: str | None) -> bool:
        """Puts the chat in the owner's folder `folder_id` (None: in no folder); False if
        either is not the owner's."""
        owner = check_owner(owner)

        def run(conn: Conn) -> bool:
            if folder_id is not None and self._sql.execute(
                    conn, "SELECT 1 FROM folders WHERE id = ? AND owner = ?",
                    folder_id, owner).fetchone() is None:
                return False
            return self._changed(conn, "UPDATE conversations SET folder_id = ?"
                                 " WHERE id = ? AND owner = ?", folder_id, conversation_id, owner)
        return self._sql.db.write(run)

    def _changed(self, conn: Conn, sql: str, *params: object) -> bool:
        return int(self._sql.execute(conn, sql, *params).rowcount) > 0


def _folder_name(name: str) -> str:
    cleaned = clean_title(name or "")
    if not cleaned:
        raise ValueError("the folder name is empty")
    return cleaned
