"""Settings: the only module that reads environment variables.

Every setting has a safe development default so `idmx serve` works on a fresh laptop, and every bad
value raises `SettingsError` with one line that names the variable; the CLI prints that line and exits.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Mapping

ENVIRONMENTS = ("development", "test", "production")


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line meant for a human."""


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _database_url(env: Mapping[str, str], var_dir: Path) -> str:
    url = env.get("IDMX_DATABASE_URL") or f"sqlite:///{var_dir / 'idmx.sqlite3'}"
    scheme = url.split(":", 1)[0]
    if "://" not in url or scheme.split("+")[0] not in ("sqlite", "postgresql", "postgres"):
        raise SettingsError(
            f"IDMX_DATABASE_URL must be a sqlite:/// or postgresql:// URL, got {url!r}"
        )
    if scheme in ("postgres", "postgresql"):
        # One driver everywhere: psycopg 3 (see docs/decisions in README, "Driver model").
        url = "postgresql+psycopg" + url[len(scheme):]
    return url


def _secret_key(env: Mapping[str, str], environment: str, var_dir: Path) -> str:
    key = env.get("IDMX_SECRET_KEY", "")
    if key:
        if len(key) < 32:
            raise SettingsError("IDMX_SECRET_KEY must be at least 32 characters long")
        return key
    if environment == "production":
        raise SettingsError("IDMX_SECRET_KEY is required when IDMX_ENV=production")
    # Development: generate once and keep it, so sessions survive restarts.
    path = var_dir / "secret_key"
    try:
        if path.exists():
            return path.read_text(encoding="ascii").strip()
        var_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(key)
        return key
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    except OSError as exc:
        raise SettingsError(f"cannot keep the development secret key in {path}: {exc.strerror}") from None


def _public_url(env: Mapping[str, str]) -> str:
    url = (env.get("IDMX_PUBLIC_URL") or "").rstrip("/")
    if not url:
        return ""  # derived from where the server listens: `Settings.base_url`
    scheme, _, rest = url.partition("://")
    if scheme not in ("http", "https") or not rest or rest.startswith("/") or " " in rest or "?" in rest:
        raise SettingsError(f"IDMX_PUBLIC_URL must be an http:// or https:// address, got {url!r}")
    return url


def _short_text(env: Mapping[str, str], name: str) -> str:
    value = " ".join(env.get(name, "").split())
    if len(value) > 300:
        raise SettingsError(f"{name} must be at most 300 characters long")
    return value


def _verify_private(env: Mapping[str, str], environment: str) -> bool:
    raw = env.get("IDMX_VERIFY_PRIVATE_ADDRESSES", "").strip().lower()
    if raw not in ("", "0", "1", "true", "false", "yes", "no"):
        raise SettingsError(f"IDMX_VERIFY_PRIVATE_ADDRESSES must be 1 or 0, got {raw!r}")
    allowed = raw in ("1", "true", "yes")
    if allowed and environment == "production":
        raise SettingsError("IDMX_VERIFY_PRIVATE_ADDRESSES lets the worker fetch internal addresses: not allowed "
                            "with IDMX_ENV=production")
    return allowed


def _previous_keys(env: Mapping[str, str]) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in env.get("IDMX_PREVIOUS_SECRET_KEYS", "").split(",") if k.strip())
    if any(len(k) < 32 for k in keys):
        raise SettingsError("IDMX_PREVIOUS_SECRET_KEYS: every key must be at least 32 characters long")
    return keys


def _trusted_proxies(env: Mapping[str, str]) -> tuple[str, ...]:
    networks = []
    for entry in env.get("IDMX_TRUSTED_PROXIES", "").split(","):
        if entry.strip():
            try:
                # strict=False: 10.0.0.1/8 is read as 10.0.0.0/8, as nginx's set_real_ip_from reads it.
                networks.append(str(ipaddress.ip_network(entry.strip(), strict=False)))
            except ValueError:
                raise SettingsError("IDMX_TRUSTED_PROXIES must be comma-separated IP addresses or networks "
                                    f"(e.g. 127.0.0.1,10.0.0.0/8), got {entry.strip()!r}") from None
    return tuple(networks)


def clock_offset(env: Mapping[str, str] | None = None) -> timedelta | None:
    """How far the clock is moved (`idmx.clock`): IDMX_CLOCK_OFFSET in seconds (set by `idmx --now` for the
    processes it starts) or IDMX_NOW, the moment the clock starts at. Development and tests only."""
    env = os.environ if env is None else env
    raw_offset, raw_now = env.get("IDMX_CLOCK_OFFSET", ""), env.get("IDMX_NOW", "")
    if not raw_offset and not raw_now:
        return None
    if env.get("IDMX_ENV") == "production":
        raise SettingsError("IDMX_NOW and IDMX_CLOCK_OFFSET move the clock: not allowed with IDMX_ENV=production")
    if raw_offset:
        try:
            return timedelta(seconds=float(raw_offset))
        except (ValueError, OverflowError):
            raise SettingsError(f"IDMX_CLOCK_OFFSET must be a number of seconds, got {raw_offset!r}") from None
    from idmx import clock

    try:
        return clock.OffsetClock.starting_at(clock.parse_moment(raw_now)).offset
    except ValueError as exc:
        raise SettingsError(f"IDMX_NOW: {exc}") from None


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    environment: str = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    var_dir: Path = Path("var")
    db_pool_size: int = 20
    db_max_overflow: int = 10
    redis_url: str = ""
    proposals_per_hour: int = 30
    votes_per_hour: int = 600
    # Per client address: higher, because a school or an office shares one address.
    proposals_per_hour_per_ip: int = 300
    votes_per_hour_per_ip: int = 6000
    smtp_url: str = ""
    # IDMX_PUBLIC_URL, where the site is reachable from outside (no trailing slash); empty: derived from
    # host and port (`base_url`). The base of every absolute link: e-mails, the DCAT catalogue, exports.
    public_url: str = ""
    # Sender of e-mails when IDMX_SMTP_URL has no ?from= (empty: noreply@ the public host).
    mail_from: str = ""
    clock_offset: timedelta | None = None
    # Earlier IDMX_SECRET_KEY values still accepted for respondent cookies while they are re-signed.
    previous_secret_keys: tuple[str, ...] = ()
    # New respondents of one consultation per hour from one address / network before they are flagged.
    new_respondents_per_hour_per_address: int = 30
    new_respondents_per_hour_per_network: int = 200
    # IDMX_TRUSTED_PROXIES: the reverse proxies whose X-Forwarded-For is believed (`idmx.web.proxy`), as
    # networks ("127.0.0.1/32"; strings, since Litestar hands the settings to handlers). Empty: nobody's,
    # so a client cannot choose the address its limits are counted under.
    trusted_proxies: tuple[str, ...] = ()
    # IDMX_CONTROLLER_NAME / IDMX_CONTROLLER_CONTACT: who is responsible for the personal data (the privacy
    # notice names them) and how to reach them (an e-mail address or a postal address).
    controller_name: str = ""
    controller_contact: str = ""
    # IDMX_DISCLOSURE_K: every class of respondents in a consultation's public open data holds at least this many.
    disclosure_k: int = 5
    # IDMX_VERIFY_PRIVATE_ADDRESSES: publication checks may fetch loopback and private addresses (tests and
    # development only; `idmx.verification.http` refuses them otherwise).
    verify_private_addresses: bool = False
    # IDMX_LINK_RECHECK_HOURS: how often the worker re-checks a published dataset's address.
    link_recheck_hours: int = 24
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def base_url(self) -> str:
        """The base of every absolute link: IDMX_PUBLIC_URL, or the address `idmx serve` listens on
        (a wildcard address read as localhost)."""
        if self.public_url:
            return self.public_url
        host = "localhost" if self.host in ("0.0.0.0", "::", "") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def with_(self, **changes: object) -> "Settings":
        return replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        environment = env.get("IDMX_ENV", "development") or "development"
        if environment not in ENVIRONMENTS:
            raise SettingsError(
                f"IDMX_ENV must be one of {', '.join(ENVIRONMENTS)}, got {environment!r}"
            )
        var_dir = Path(env.get("IDMX_VAR_DIR") or "var")
        return cls(
            database_url=_database_url(env, var_dir),
            secret_key=_secret_key(env, environment, var_dir),
            environment=environment,
            host=env.get("IDMX_HOST") or "127.0.0.1",
            port=_int(env, "IDMX_PORT", 8000, 1, 65535),
            workers=_int(env, "IDMX_WORKERS", 1, 1, 64),
            var_dir=var_dir,
            db_pool_size=_int(env, "IDMX_DB_POOL_SIZE", 20, 1, 500),
            db_max_overflow=_int(env, "IDMX_DB_MAX_OVERFLOW", 10, 0, 500),
            redis_url=env.get("IDMX_REDIS_URL", ""),
            proposals_per_hour=_int(env, "IDMX_PROPOSALS_PER_HOUR", 30, 1, 1_000_000),
            votes_per_hour=_int(env, "IDMX_VOTES_PER_HOUR", 600, 1, 1_000_000),
            proposals_per_hour_per_ip=_int(env, "IDMX_PROPOSALS_PER_HOUR_PER_IP", 300, 1, 10_000_000),
            votes_per_hour_per_ip=_int(env, "IDMX_VOTES_PER_HOUR_PER_IP", 6000, 1, 10_000_000),
            smtp_url=env.get("IDMX_SMTP_URL", ""),
            public_url=_public_url(env),
            mail_from=env.get("IDMX_MAIL_FROM", ""),
            clock_offset=clock_offset(env),
            previous_secret_keys=_previous_keys(env),
            new_respondents_per_hour_per_address=_int(env, "IDMX_NEW_RESPONDENTS_PER_HOUR_PER_ADDRESS", 30, 1, 10_000_000),
            new_respondents_per_hour_per_network=_int(env, "IDMX_NEW_RESPONDENTS_PER_HOUR_PER_NETWORK", 200, 1, 10_000_000),
            trusted_proxies=_trusted_proxies(env),
            verify_private_addresses=_verify_private(env, environment),
            link_recheck_hours=_int(env, "IDMX_LINK_RECHECK_HOURS", 24, 1, 24 * 365),
            controller_name=_short_text(env, "IDMX_CONTROLLER_NAME"),
            controller_contact=_short_text(env, "IDMX_CONTROLLER_CONTACT"),
            disclosure_k=_int(env, "IDMX_DISCLOSURE_K", 5, 1, 1000),
        )
