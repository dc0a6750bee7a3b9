"""E-mail: the outbox, written in the transaction of the change it reports, and `idmx notify`, which sends it.

Messages are added by the feature that has something to say (`idmx.plans.services` for followers of a
plan item, `idmx.items.services` for confirmations), rendered in the recipient's language.

Sending over SMTP.

``IDMX_SMTP_URL`` says where: ``smtp://host:25`` (plain), ``smtp+starttls://user:pass@host:587``
(upgrade with STARTTLS before logging in) or ``smtps://user:pass@host:465`` (TLS from the start); the
user and password are URL-encoded. The sender address comes from ``?from=`` in that URL, else
``IDMX_MAIL_FROM``, else ``noreply@`` the host of ``IDMX_PUBLIC_URL``.

Delivery: each message goes through three short steps, and no transaction is open while it is sent.

1. *Claim* (one committed transaction): the next due message gets a random ``claim_token`` and a lease
   (``claimed_until``, `LEASE_S` from now) and, the first time, its ``message_id``. PostgreSQL takes the
   row with ``FOR UPDATE SKIP LOCKED``; SQLite's write transaction is the database's single write lock,
   so two senders never claim the same message.
2. *Send* over SMTP, outside any transaction (a slow server holds no lock, blocks no writer).
3. *Mark* (one committed transaction): ``sent_at``, and the claim is released. A refused message gets
   one more ``attempts``, its error in ``last_error`` and a retry time (``next_attempt_at``, backoff
   `BACKOFF_S`); after `MAX_ATTEMPTS` failures it stays in the table, unsent, for a person to look at.

A crash between claim and send leaves the message claimed until its lease ends; then another run
sends it. A crash between the server's acceptance and the mark (a window of milliseconds) cannot be
told apart from a crash before sending, since SMTP offers no way to ask the server what it received;
the message is then sent again *with the same Message-ID*, which mail systems and readers treat as the
same message. Nothing is ever lost, and no message is sent twice except in that window. A lease
(`LEASE_S`) is far longer than one send can take (each SMTP command times out after `TIMEOUT_S`), so a
live sender's message is never taken over.

One refused message never stops the others. A server that cannot be reached stops the run without
touching any message (an outage must not use up their attempts) and the report says why.
"""

from __future__ import annotations

import secrets
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from idmx import clock
from idmx.db import Database
from idmx.db import models as m
from idmx.settings import Settings

MAX_ATTEMPTS = 5
TIMEOUT_S = 10  # per SMTP command
LEASE_S = 300  # a claim outlives any send (connect, a few commands of TIMEOUT_S each)
BACKOFF_S = (60, 300, 1800, 7200)  # wait before retry n (after the n-th failure)
SCHEMES = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


def add(s: Session, to_email: str, subject: str, body: str) -> None:
    """Queue one message in the caller's transaction: it is sent only if that change commits."""
    s.add(m.OutboxMessage(to_email=to_email, subject=subject[:250], body=body))


class SmtpConfigError(ValueError):
    """IDMX_SMTP_URL is missing or malformed; the message is one line for a human."""


@dataclass(frozen=True)
class SmtpConfig:
    scheme: str
    host: str
    port: int
    username: str
    password: str
    mail_from: str


@dataclass(frozen=True)
class SendReport:
    sent: int
    failed: int
    pending: int  # still to send after this run (unsent, fewer than MAX_ATTEMPTS failures)
    error: str = ""  # why the run stopped early (the server could not be reached), if it did

    def __str__(self) -> str:
        return f"sent {self.sent}, failed {self.failed}, pending {self.pending}"


def smtp_config(settings: Settings) -> SmtpConfig:
    url = settings.smtp_url.strip()
    if not url:
        raise SmtpConfigError("IDMX_SMTP_URL is not set: give the mail server, e.g. smtp+starttls://user:pass@mail.example.mx:587")
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise SmtpConfigError(f"IDMX_SMTP_URL must be smtp://, smtp+starttls:// or smtps://host[:port], got {parts.scheme or url!r}://...")
    try:
        port = parts.port or SCHEMES[parts.scheme]
    except ValueError:
        raise SmtpConfigError("IDMX_SMTP_URL has an invalid port") from None
    query = parse_qs(parts.query)
    mail_from = (query.get("from") or [""])[0] or settings.mail_from
    if not mail_from:
        mail_from = "noreply@" + (urlsplit(settings.base_url).hostname or "localhost")
    return SmtpConfig(parts.scheme, parts.hostname, port, unquote(parts.username or ""), unquote(parts.password or ""),
                      mail_from)


def _connect(cfg: SmtpConfig) -> smtplib.SMTP:
    if cfg.scheme == "smtps":
        conn: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=TIMEOUT_S, context=ssl.create_default_context())
    else:
        conn = smtplib.SMTP(cfg.host, cfg.port, timeout=TIMEOUT_S)
        if cfg.scheme == "smtp+starttls":
            conn.starttls(context=ssl.create_default_context())
    if cfg.username:
        conn.login(cfg.username, cfg.password)
    return conn


@dataclass(frozen=True)
class Claimed:
    """A message this sender holds the claim of: its token proves it when the result is stored."""

    id: int
    token: str
    to_email: str
    subject: str
    body: str
    message_id: str


def build_message(row: Claimed, mail_from: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = row.to_email
    msg["Subject"] = row.subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = row.message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(row.body, charset="utf-8")
    return msg


def _domain(mail_from: str) -> str:
    return mail_from.rpartition("@")[2].strip("<> ") or "localhost"


def _due(now: datetime):
    return (m.OutboxMessage.sent_at.is_(None), m.OutboxMessage.attempts < MAX_ATTEMPTS,
            or_(m.OutboxMessage.next_attempt_at.is_(None), m.OutboxMessage.next_attempt_at <= now),
            or_(m.OutboxMessage.claimed_until.is_(None), m.OutboxMessage.claimed_until <= now))


def claim(db: Database, mail_from: str, *, after_id: int = 0) -> Claimed | None:
    """Claim the next due message (id above `after_id`) in a transaction of its own; None when none is due."""
    now = clock.now()
    with db.write() as s:
        query = select(m.OutboxMessage).where(*_due(now), m.OutboxMessage.id > after_id).order_by(m.OutboxMessage.id).limit(1)
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        row = s.scalar(query)
        if row is None:
            return None
        row.claim_token = secrets.token_hex(16)
        row.claimed_until = now + timedelta(seconds=LEASE_S)
        if not row.message_id:  # fixed once: a message sent again keeps its Message-ID
            row.message_id = f"<idmx.outbox.{row.id}.{secrets.token_hex(8)}@{_domain(mail_from)}>"
        return Claimed(row.id, row.claim_token, row.to_email, row.subject, row.body, row.message_id)


def mark_sent(db: Database, claimed: Claimed) -> None:
    """The server accepted the message: store it as sent (even if the claim ran out meanwhile: it was delivered)."""
    with db.write() as s:
        s.execute(update(m.OutboxMessage).where(m.OutboxMessage.id == claimed.id, m.OutboxMessage.sent_at.is_(None))
                  .values(sent_at=clock.now(), claim_token=None, claimed_until=None))


def mark_failed(db: Database, claimed: Claimed, exc: BaseException) -> None:
    """Count one failed attempt and schedule the next (backoff), if the claim is still this sender's."""
    with db.write() as s:
        row = s.scalar(select(m.OutboxMessage).where(m.OutboxMessage.id == claimed.id,
                                                     m.OutboxMessage.claim_token == claimed.token))
        if row is None:
            return
        row.attempts = (row.attempts or 0) + 1
        row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        row.next_attempt_at = clock.now() + timedelta(seconds=backoff_s(row.attempts))
        row.claim_token = row.claimed_until = None


def backoff_s(failures: int) -> int:
    """Seconds to wait after the `failures`-th failure."""
    return BACKOFF_S[min(max(failures, 1), len(BACKOFF_S)) - 1]


# Errors that concern one message; anything else (connection lost, server gone) ends the run.
_MESSAGE_ERRORS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError,
                   smtplib.SMTPNotSupportedError, UnicodeError, ValueError)


def send_pending(db: Database, settings: Settings, limit: int = 100) -> SendReport:
    """Send up to `limit` due messages in id order; see the module docstring for the guarantees."""
    cfg = smtp_config(settings)
    if due_count(db) == 0:
        return SendReport(0, 0, pending_count(db))
    try:
        conn: smtplib.SMTP | None = _connect(cfg)
    except (smtplib.SMTPException, OSError) as exc:
        # Not the messages' fault: they keep their attempts, and the run reports why it stopped.
        error = f"cannot reach the mail server {cfg.host}:{cfg.port}: {type(exc).__name__}: {exc}"
        return SendReport(0, 0, pending_count(db), error)
    sent = failed = 0
    last_id = 0
    error = ""
    try:
        for _ in range(limit):
            claimed = claim(db, cfg.mail_from, after_id=last_id)
            if claimed is None:
                break
            last_id = claimed.id
            try:
                conn.send_message(build_message(claimed, cfg.mail_from))
            except _MESSAGE_ERRORS as exc:
                mark_failed(db, claimed, exc)
                failed += 1
            except (smtplib.SMTPException, OSError) as exc:
                # The connection broke while sending: count it against the message, stop this run.
                mark_failed(db, claimed, exc)
                failed += 1
                error = f"the mail server {cfg.host}:{cfg.port} broke the connection: {type(exc).__name__}: {exc}"
                break
            else:
                mark_sent(db, claimed)
                sent += 1
    finally:
        _close(conn)
    return SendReport(sent, failed, pending_count(db), error)


def _close(conn: smtplib.SMTP | None) -> None:
    if conn is None:
        return
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        conn.close()


def pending_count(db: Database) -> int:
    """Unsent messages that will still be tried (some may be waiting for their retry time or claim)."""
    with db.read() as s:
        return s.scalar(
            select(func.count()).select_from(m.OutboxMessage)
            .where(m.OutboxMessage.sent_at.is_(None), m.OutboxMessage.attempts < MAX_ATTEMPTS)
        ) or 0


def due_count(db: Database) -> int:
    """Messages a run would send now."""
    with db.read() as s:
        return s.scalar(select(func.count()).select_from(m.OutboxMessage).where(*_due(clock.now()))) or 0
