"""Sending is crash-safe: the claim commits before the message leaves, nothing is sent inside a transaction,
and a crash at any step neither loses a message nor sends a different copy of it (SQLite and PostgreSQL)."""

from __future__ import annotations

import smtplib
import time
from datetime import timedelta

from sqlalchemy import select

from idmx import clock
from idmx.db import models as m
from idmx.notify import services as sender
from tests.notify.test_notify import queue, rows


def _cfg(settings, smtp):
    return sender.smtp_config(settings.with_(smtp_url=smtp.url))


def test_the_claim_is_committed_and_no_write_lock_is_held_while_the_server_answers(db, settings, smtp):
    queue(db, ("a@example.mx", "A", "a\n"))
    seen: dict = {}
    original = smtp.handle_DATA

    async def handle_data(server, session, envelope):
        # While the server holds the message: another connection sees the committed claim, and a writer
        # gets the database at once (a sender holding a write transaction would block it on SQLite).
        with db.read() as s:
            seen["claim"] = s.scalar(select(m.OutboxMessage.claim_token))
        started = time.monotonic()
        with db.write() as s:
            sender.add(s, "b@example.mx", "B", "b\n")
        seen["write_s"] = time.monotonic() - started
        return await original(server, session, envelope)

    smtp.handle_DATA = handle_data
    report = sender.send_pending(db, settings.with_(smtp_url=smtp.url), limit=1)
    assert report.sent == 1
    assert seen["claim"] and len(seen["claim"]) == 32
    assert seen["write_s"] < 1.0
    first = rows(db)[0]
    assert first.sent_at is not None and first.claim_token is None and first.claimed_until is None


def test_a_crash_after_the_claim_and_before_sending_sends_the_message_once_after_the_lease(db, settings, smtp):
    queue(db, ("a@example.mx", "A", "a\n"))
    with clock.frozen(clock.now()) as frozen:
        claimed = sender.claim(db, _cfg(settings, smtp).mail_from)  # ...and the sender dies here
        assert claimed is not None
        assert sender.send_pending(db, settings.with_(smtp_url=smtp.url)).sent == 0  # still claimed
        frozen.advance(timedelta(seconds=sender.LEASE_S + 1))
        assert sender.send_pending(db, settings.with_(smtp_url=smtp.url)).sent == 1
        assert sender.send_pending(db, settings.with_(smtp_url=smtp.url)).sent == 0
    assert len(smtp.messages) == 1
    assert smtp.messages[0]["msg"]["Message-ID"].strip() == claimed.message_id


def test_a_crash_between_acceptance_and_mark_resends_the_same_message_id_once(db, settings, smtp):
    queue(db, ("a@example.mx", "A", "a\n"), ("b@example.mx", "B", "b\n"))
    cfg = _cfg(settings, smtp)
    with clock.frozen(clock.now()) as frozen:
        claimed = sender.claim(db, cfg.mail_from)
        conn = smtplib.SMTP(cfg.host, cfg.port, timeout=5)
        conn.send_message(sender.build_message(claimed, cfg.mail_from))  # accepted; the sender dies before marking
        conn.quit()
        # Another run meanwhile sends the rest and leaves the claimed message alone.
        assert sender.send_pending(db, settings.with_(smtp_url=smtp.url)).sent == 1
        frozen.advance(timedelta(seconds=sender.LEASE_S + 1))
        assert sender.send_pending(db, settings.with_(smtp_url=smtp.url)).sent == 1
        assert sender.send_pending(db, settings.with_(smtp_url=smtp.url)).sent == 0
    to_a = [r["msg"] for r in smtp.messages if r["to"] == ["a@example.mx"]]
    assert len(to_a) == 2 and {msg["Message-ID"].strip() for msg in to_a} == {claimed.message_id}
    assert [r["to"] for r in smtp.messages].count(["b@example.mx"]) == 1
    assert all(r.sent_at is not None and r.claim_token is None for r in rows(db))


def test_a_result_stored_after_the_claim_was_taken_over_still_records_the_delivery(db, settings, smtp):
    queue(db, ("a@example.mx", "A", "a\n"))
    mail_from = _cfg(settings, smtp).mail_from
    with clock.frozen(clock.now()) as frozen:
        slow = sender.claim(db, mail_from)
        frozen.advance(timedelta(seconds=sender.LEASE_S + 1))
        fast = sender.claim(db, mail_from)
        assert fast is not None and fast.token != slow.token and fast.message_id == slow.message_id
        sender.mark_failed(db, slow, RuntimeError("late"))  # not the holder any more: nothing counted
        assert rows(db)[0].attempts == 0 and rows(db)[0].claim_token == fast.token
        sender.mark_sent(db, slow)  # it was delivered after all: recorded, and nobody sends it again
        assert rows(db)[0].sent_at is not None
        assert sender.claim(db, mail_from) is None


def test_backoff_grows_and_is_capped():
    assert [sender.backoff_s(n) for n in range(1, 7)] == [60, 300, 1800, 7200, 7200, 7200]
