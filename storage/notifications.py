"""What onloop told people and the links it gave them: the signing key of notification links,
each delivery (channel, target, ok or the error) and each signed link's single use."""

from __future__ import annotations

import secrets

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from storage.engine import Store, read_session, reading, write_session, writing
from storage.models import table_of, utcnow
from storage.notify_tables import LinkUse, NotifyDelivery, NotifyKey

KEY_BYTES = 32


_keys = table_of(NotifyKey)
_uses = table_of(LinkUse)


def notify_key(store: Store) -> bytes:
    """The store's link-signing key, made (randomly) the first time it is asked for."""
    first = select(_keys.c.secret).order_by(_keys.c.id).limit(1)
    with reading(store) as conn:
        found = conn.scalar(first)
    if found is None:
        with writing(store) as conn:
            found = conn.scalar(first)  # another process may have made it meanwhile
            if found is None:
                found = secrets.token_hex(KEY_BYTES)
                conn.execute(insert(_keys).values(secret=found, created_at=utcnow()))
    return bytes.fromhex(found)


def record_delivery(store: Store, delivery: NotifyDelivery) -> NotifyDelivery:
    with write_session(store) as session:
        session.add(delivery)
    return delivery


def deliveries(store: Store, *, run_id: str | None = None, limit: int = 50) -> list[NotifyDelivery]:
    """The latest deliveries, newest first (of one run when `run_id` is given)."""
    query = select(NotifyDelivery).order_by(col(NotifyDelivery.id).desc()).limit(limit)
    if run_id is not None:
        query = query.where(col(NotifyDelivery.run_id) == run_id)
    with read_session(store) as session:
        return list(session.scalars(query))


def use_link(store: Store, *, nonce: str, item: str, by: str) -> LinkUse | None:
    """Record the one use of a link: None when this is its first use, else the earlier use."""
    try:
        with writing(store) as conn:
            if conn.scalar(select(_uses.c.nonce).where(_uses.c.nonce == nonce)) is None:
                conn.execute(
                    insert(_uses).values(nonce=nonce, item=item, used_by=by, used_at=utcnow())
                )
                return None
    except IntegrityError:  # PostgreSQL: another dashboard used it in the same instant
        pass
    with read_session(store) as session:
        return session.get(LinkUse, nonce)
