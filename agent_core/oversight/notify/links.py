"""Signed, expiring, single-use links to an approval or a run.

A link is `{dashboard_url}/?item=approval-42&exp=UNIX&nonce=N&sig=HEX`, the signature an
HMAC-SHA256 over item, expiry and nonce with the store's key (storage.notify_key). It only
*points*: the dashboard still signs the person in, checks their role as for any decision, and
asks them; the nonce is recorded on first use (storage.use_link) so a second use is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

LINK_PARAMS = ("item", "exp", "nonce", "sig")
_ITEM = re.compile(r"^(approval|run)-([A-Za-z0-9]{1,64})$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_EXPIRES_DIGITS = 20


class LinkRefused(Exception):
    """A link that must not open anything; the message says why, for the person who opened it."""


@dataclass(frozen=True)
class SignedItem:
    kind: str  # "approval" or "run"
    ident: str  # the approval id (digits) or the run id
    expires: int  # Unix seconds
    nonce: str

    @property
    def item(self) -> str:
        return f"{self.kind}-{self.ident}"


def _signature(key: bytes, item: str, expires: int, nonce: str) -> str:
    message = f"{item}|{expires}|{nonce}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def signed_link(key: bytes, base: str, *, item: str, ttl_s: float, now: float | None = None) -> str:
    """A fresh link to `item` ("approval-42" or "run-ID"), good for `ttl_s` seconds, once."""
    expires = int((time.time() if now is None else now) + ttl_s)
    nonce = secrets.token_urlsafe(12)
    query = {"item": item, "exp": expires, "nonce": nonce}
    query["sig"] = _signature(key, item, expires, nonce)
    return f"{base.rstrip('/')}/?{urlencode(query)}"


def check_link(key: bytes, params: Mapping[str, str], now: float | None = None) -> SignedItem:
    """The item a link names when its signature holds and it has not expired; LinkRefused else.
    (Whether it was used before is the store's to say.)"""
    item, expires, nonce, sig = (str(params.get(name, "")) for name in LINK_PARAMS)
    found = _ITEM.match(item)
    # Anyone can send an address: `str.isdigit` takes "²", which int() refuses, int() refuses
    # more than 4300 digits, and hmac.compare_digest refuses a non-ASCII str; all are refused
    # here as tampered (a signed expiry has 10 digits until the year 2286).
    digits = expires.isascii() and expires.isdigit() and len(expires) <= _EXPIRES_DIGITS
    if found is None or not digits or _NONCE.match(nonce) is None or not sig.isascii():
        raise LinkRefused(_TAMPERED)
    if not hmac.compare_digest(_signature(key, item, int(expires), nonce), sig):
        raise LinkRefused(_TAMPERED)
    if int(expires) < (time.time() if now is None else now):
        raise LinkRefused(
            "This link has expired. Links in notifications are good for a while only (the "
            "policy's [notify] link_ttl_s); open the Approvals page to find the item."
        )
    return SignedItem(found.group(1), found.group(2), int(expires), nonce)


_TAMPERED = (
    "This link is not one onloop signed (it was changed, cut short or made elsewhere), so it "
    "opens nothing. Open the dashboard and find the item on the Approvals page."
)
