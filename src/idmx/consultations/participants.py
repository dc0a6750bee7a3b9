"""Who takes part, as the services see it (pure): a respondent's key and where new respondents are counted.

`Participant.token_hash` is the only identity the database keeps. `address_key` and `network_key` are
keyed hashes (`idmx.web.respondents.client_keys`): new respondents are counted under them per hour, and a
respondent created beyond `BurstLimits` is flagged as part of a burst. Flagged, never refused.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BurstLimits", "Participant", "as_participant", "burst_detail"]


@dataclass(frozen=True)
class Participant:
    token_hash: str
    address_key: str = ""
    network_key: str = ""


def as_participant(who: Participant | str) -> Participant:
    """A participant, or a bare token hash (imports, scripts, tests: nothing to count bursts under)."""
    return who if isinstance(who, Participant) else Participant(who)


@dataclass(frozen=True)
class BurstLimits:
    per_address: int = 30  # new respondents of one consultation per hour from one address
    per_network: int = 200  # ... from one /24 (IPv4) or /48 (IPv6) network


def burst_detail(from_address: int, from_network: int, limits: BurstLimits) -> str | None:
    """What makes a new respondent part of a burst (the counts include them), as stored with the flag
    (``address=N`` or ``network=N``), or None when it is not."""
    if from_address > limits.per_address:
        return f"address={from_address}"
    if from_network > limits.per_network:
        return f"network={from_network}"
    return None
