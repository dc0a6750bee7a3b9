"""E-mail: the outbox, written in the transaction of the change it reports, and `idmx notify`, which sends it.

Messages are added by the feature that has something to say (`idmx.plans.services` for followers of a
plan item, `idmx.items.services` for confirmations), rendered in the recipient's language.

Sending over SMTP.

``IDMX_SMTP_URL`` says where: ``smtp://host:25`` (plain), ``smtp+starttls://user:pass@host:587``
(upgrade with STARTTLS before logging in) or ``smtps://user:pass@host:465`` (TLS from the start); the
user and password are URL-encoded. The sender address comes from ``?from=`` in that URL, else
``IDMX_MAIL_FROM``, else ``noreply@`` the host of ``IDMX_PUBLIC_URL``.

Delivery is at least once and nothing is lost: each message is claimed, sent and marked in its own
short transaction, so a crash leaves at most the message in flight to be sent again. A refused
message gets one more ``attempts`` and its error in ``last_error``; after `MAX_ATTEMPTS` failures it
stays in the table, unsent, for a person to look at. One refused message never stops the others. A
server that cannot be reached stops the run without touching any message (an outage must not use up
their attempts) and the report says why.

Two senders at once never send the same message: on PostgreSQL the claim is ``SELECT ... FOR UPDATE
SKIP LOCKED`` (the other sender takes the next row); on SQLite the write transaction holds the
database's single write lock while the message is sent, so the other sender waits and then sees it
sent. Each SMTP command has a timeout (`TIMEOUT_S`), which bounds how long that lock can be held.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from idmx import clock
from idmx.db import Database
from idmx.db import models as m
from idmx.settings import Settings

MAX_ATTEMPTS = 5
TIMEOUT_S = 10  # below SQLite's busy timeout (15 s), so a slow server cannot make app writes fail
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


def build_message(row: m.OutboxMessage, mail_from: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = mail_from
    msg["To"] = row.to_email
    msg["Subject"] = row.subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=mail_from.rpartition("@")[2].strip(">") or None)
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(row.body, charset="utf-8")
    return msg


def _claim_next(s, after_id: int, postgres: bool) -> m.OutboxMessage | None:
    query = (
        select(m.OutboxMessage)
        .where(m.OutboxMessage.sent_at.is_(None), m.OutboxMessage.attempts < MAX_ATTEMPTS, m.OutboxMessage.id > after_id)
        .order_by(m.OutboxMessage.id)
        .limit(1)
    )
    if postgres:
        query = query.with_for_update(skip_locked=True)
    return s.scalar(query)


# Errors that concern one message; anything else (connection lost, server gone) ends the run.
_MESSAGE_ERRORS = (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError,
                   smtplib.SMTPNotSupportedError, UnicodeError, ValueError)


def send_pending(db: Database, settings: Settings, limit: int = 100) -> SendReport:
    """Send up to `limit` unsent messages in id order; see the module docstring for the guarantees."""
    cfg = smtp_config(settings)
    if pending_count(db) == 0:
        return SendReport(0, 0, 0)
    try:
        # Connect before any transaction: only the sending itself happens while a message is claimed.
        conn: smtplib.SMTP | None = _connect(cfg)
    except (smtplib.SMTPException, OSError) as exc:
        # Not the messages' fault: they keep their attempts, and the run reports why it stopped.
        error = f"cannot reach the mail server {cfg.host}:{cfg.port}: {type(exc).__name__}: {exc}"
        return SendReport(0, 0, pending_count(db), error)
    postgres = not db.is_sqlite
    sent = failed = 0
    last_id = 0
    error = ""
    try:
        for _ in range(limit):
            with db.write() as s:
                row = _claim_next(s, last_id, postgres)
                if row is None:
                    break
                last_id = row.id
                try:
                    conn.send_message(build_message(row, cfg.mail_from))
                except _MESSAGE_ERRORS as exc:
                    _failed(row, exc)
                    failed += 1
                except (smtplib.SMTPException, OSError) as exc:
                    # The connection broke while sending: count it against the message, stop this run.
                    _failed(row, exc)
                    failed += 1
                    error = f"the mail server {cfg.host}:{cfg.port} broke the connection: {type(exc).__name__}: {exc}"
                    break
                else:
                    row.sent_at = clock.now()
                    sent += 1
    finally:
        _close(conn)
    return SendReport(sent, failed, pending_count(db), error)


def _failed(row: m.OutboxMessage, exc: Exception) -> None:
    row.attempts = (row.attempts or 0) + 1
    row.last_error = f"{type(exc).__name__}: {exc}"[:2000]


def _close(conn: smtplib.SMTP | None) -> None:
    if conn is None:
        return
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        conn.close()


def pending_count(db: Database) -> int:
    with db.read() as s:
        return s.scalar(
            select(func.count()).select_from(m.OutboxMessage)
            .where(m.OutboxMessage.sent_at.is_(None), m.OutboxMessage.attempts < MAX_ATTEMPTS)
        ) or 0
