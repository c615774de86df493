"""Sending off the run's thread: a queue and a few daemon threads, each delivery retried with
backoff, then recorded in the store (channel, target, ok or the error). A dead or slow receiver
holds one of these threads for a while, never the run."""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, replace

from sqlalchemy.exc import SQLAlchemyError

import storage
from agent_core.oversight.notify.channels import DeliveryFailed, sender_for, target_of
from agent_core.oversight.notify.links import signed_link
from agent_core.oversight.notify.notice import Notice
from agent_core.oversight.notify_settings import NotifySettings

log = logging.getLogger("onloop.notify")
ATTEMPTS = 3
BACKOFF_S = 0.5  # then 1 s: a receiver that is down for a moment still gets the message
THREADS = 4


@dataclass(frozen=True)
class _Job:
    store: storage.Store
    settings: NotifySettings
    notice: Notice
    channel: str


class Sender:
    """The process's notification sender; its threads start with the first message."""

    def __init__(self, threads: int = THREADS) -> None:
        self._queue: queue.Queue[_Job] = queue.Queue()
        self._threads = threads
        self._started = False
        self._lock = threading.Lock()

    def submit(self, store: storage.Store, settings: NotifySettings, notice: Notice) -> int:
        """Queue the notice on every channel that hears of its event; how many were queued.
        Returns at once: nothing here reads the store or the network."""
        if notice.event not in settings.events:
            return 0
        channels = settings.configured()
        if channels:
            self._start()
        for channel in channels:
            self._queue.put(_Job(store, settings, notice, channel))
        return len(channels)

    def idle(self, timeout_s: float) -> bool:
        """Wait until every queued message was delivered or given up on (tests, benchmarks)."""
        deadline = time.monotonic() + timeout_s
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
            for number in range(self._threads):
                threading.Thread(target=self._work, name=f"notify-{number}", daemon=True).start()

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            try:
                _deliver(job)
            except Exception:  # noqa: BLE001 - a bug here must not stop the sender
                log.exception("notification on %s failed", job.channel)
            finally:
                self._queue.task_done()


def _deliver(job: _Job) -> None:
    store, settings, channel = job.store, job.settings, job.channel
    outdated = _no_longer_so(store, job.notice)
    if outdated is not None:  # never sent, so no delivery to record: nobody was told
        log.info("notification on %s not sent: %s", channel, outdated)
        return
    notice = _completed(store, settings, job.notice)
    send = sender_for(settings, channel)
    error: str | None = None
    attempts = 0
    for attempts in range(1, ATTEMPTS + 1):
        try:
            send(notice)
            error = None
            break
        except DeliveryFailed as exc:
            error = str(exc)[:500]
            if attempts < ATTEMPTS:
                time.sleep(BACKOFF_S * 2 ** (attempts - 1))
                outdated = _no_longer_so(store, job.notice)
                if outdated is not None:
                    error = f"{error}; not tried again: {outdated}"[:500]
                    break
    if error is not None:
        log.warning("notification on %s failed after %d attempts: %s", channel, attempts, error)
    storage.record_delivery(  # a store gone by now: the sender's log says so
        store,
        storage.NotifyDelivery(
            run_id=notice.run_id,
            approval_id=notice.approval_id,
            event=notice.event,
            channel=channel,
            target=target_of(settings, channel),
            ok=error is None,
            error=error,
            attempts=attempts,
        ),
    )


def _no_longer_so(store: storage.Store, notice: Notice) -> str | None:
    """Why the notice would now claim what a halt undid, read right before each attempt, or None.
    After a halt no message says the run waits for a decision or asks to be resumed (the halt
    cancelled the approval, ended the pause); only the one saying it was halted still goes."""
    if notice.event == "run_halted":
        return None
    try:
        run = storage.get_run(store, run_id=notice.run_id)
        halted = run.status == "halted" or storage.halt_pending(store, run_id=run.id)
    except (storage.StoreError, SQLAlchemyError) as error:  # unknown: the message still goes
        log.info("notification for run %s: its status unread (%s)", notice.run_id, error)
        return None
    return "the run was halted" if halted else None


def _completed(store: storage.Store, settings: NotifySettings, notice: Notice) -> Notice:
    """The notice with its own signed link, and an approval's words as the store keeps them
    (redacted of the run's secrets when they were written)."""
    if notice.approval_id is not None:
        approval = storage.get_approval(store, approval_id=notice.approval_id)
        notice = replace(
            notice,
            action=approval.summary or approval.tool,
            risk=approval.risk,
            reason=approval.reason or "",
        )
    link = signed_link(
        storage.notify_key(store),
        settings.dashboard_url,
        item=notice.item,
        ttl_s=settings.link_ttl_s,
    )
    return replace(notice, link=link)


SENDER = Sender()
