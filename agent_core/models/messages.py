"""The conversation as it is sent: each message serialised once, when it is first sent.

A run's conversation only grows (the loop appends a message per model reply, tool result,
guidance), yet every model call sends all of it. Serialising the whole history again per call
makes a long run slower every step; a `Transcript` keeps each message's JSON from the first call
that sent it, so a call serialises only the messages added since the last one and joins the rest
as bytes. Messages are never changed once added (the loop builds each before appending it); the
list's own mutators that replace or remove messages drop the JSON from that position on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, SupportsIndex

_SURROGATE = re.compile("[\ud800-\udfff]")


def dumps(value: Any) -> bytes:
    """Compact JSON as a request body carries it (non-ASCII text as UTF-8, not escaped). A
    surrogate code point (a file name's bytes that are not UTF-8, as Python reads them; a lone
    `\\udXXX` escape in a server's JSON) has no UTF-8 form: it goes as the text `\\udce9`, so
    the model reads which bytes the name holds and the request is valid UTF-8."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        return text.encode()
    except UnicodeEncodeError:  # rare: only then is the text looked through
        return _SURROGATE.sub(lambda found: f"\\\\u{ord(found.group()):04x}", text).encode()


class Transcript(list):
    """A list of messages that remembers each one's JSON (see the module's docstring)."""

    def __init__(self, messages: Iterable[dict[str, Any]] = ()) -> None:
        super().__init__(messages)
        self._array = bytearray()  # the JSON of messages[0 : len(self._ends)], comma-separated
        self._ends: list[int] = []  # where each message's JSON ends in _array

    def encoded(self) -> bytes:
        """The messages as a JSON array: only those added since the last call are serialised."""
        for message in self[len(self._ends) :]:
            if self._ends:
                self._array += b","
            self._array += dumps(message)
            self._ends.append(len(self._array))
        return b"".join((b"[", self._array, b"]"))

    # The mutators that change what is at a position: its JSON and the JSON after it are gone.
    def _from(self, index: int) -> None:
        index = max(index, 0)
        if index < len(self._ends):
            del self._array[self._ends[index - 1] if index else 0 :]
            del self._ends[index:]

    def __setitem__(self, index: Any, value: Any) -> None:
        super().__setitem__(index, value)
        self._from(_start(index, len(self)))

    def __delitem__(self, index: Any) -> None:
        self._from(_start(index, len(self)))
        super().__delitem__(index)

    def insert(self, index: SupportsIndex, value: Any) -> None:
        self._from(_start(index, len(self)))
        super().insert(index, value)

    def pop(self, index: SupportsIndex = -1) -> Any:
        self._from(_start(index, len(self)))
        return super().pop(index)

    def remove(self, value: Any) -> None:
        self._from(0)
        super().remove(value)

    def clear(self) -> None:
        self._from(0)
        super().clear()

    def sort(self, *args: Any, **kwargs: Any) -> None:
        self._from(0)
        super().sort(*args, **kwargs)

    def reverse(self) -> None:
        self._from(0)
        super().reverse()


def _start(index: Any, length: int) -> int:
    """The first position an index or slice touches."""
    if isinstance(index, slice):
        start, _, step = index.indices(length)
        return 0 if step < 0 else start
    position = int(index)
    return position + length if position < 0 else position


def encoded_messages(messages: list[dict[str, Any]]) -> bytes:
    """A conversation's JSON array: a Transcript's kept JSON, any other list serialised whole."""
    if isinstance(messages, Transcript):
        return messages.encoded()
    return dumps(messages)


def request_body(fields: dict[str, Any], messages: bytes) -> bytes:
    """A Chat Completions request's JSON body: `fields` with the messages' JSON spliced in."""
    rest = dumps(fields)
    return b"".join((b'{"messages":', messages, b"," + rest[1:] if len(rest) > 2 else b"}"))
