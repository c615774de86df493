"""psycopg's text dumper, made to take any Python string (storage.engine.text_any_column_takes)."""

from __future__ import annotations

from psycopg.types.string import StrDumperUnknown

from storage.models import column_text


class StoredText(StrDumperUnknown):
    """As psycopg's own (the type left for the server to infer), with a NUL or a lone surrogate
    sent as U+FFFD (storage.models.column_text) instead of raising."""

    def dump(self, obj: str) -> bytes:
        if not obj.isascii() or "\x00" in obj:
            obj = column_text(obj)
        return obj.encode(self._encoding)
