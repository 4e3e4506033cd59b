"""What a refused webhook may cost: a budget per client address, and only a sample of receipts.

Anyone can post to the intake. A request that is refused before its signature is verified
(no ``order`` field, unknown or disabled store, missing or wrong hash) must not write a receipt
every time, or a flood of forged posts would grow ``webhook_receipts`` without bound. Two leaky
buckets per client address (``bridge.remote.ratelimit``: shared through Redis when the
deployment has it, per process otherwise) decide before anything is written:

* the *budget*: ``BRIDGE_REFUSAL_BURST`` refusals at once, refilled at
  ``BRIDGE_REFUSALS_PER_MINUTE``; past it the answer is 429 with ``Retry-After`` and nothing is
  written;
* the *receipt sample*: one token, refilled every ``BRIDGE_REFUSAL_RECEIPT_SECONDS``: the first
  refusal of a quiet address always leaves a receipt, a run of them at most one per interval.

Only refusals spend tokens, so Order Desk's signed webhooks are never throttled, whoever else
shares its address. The address is werkzeug's ``request.remote_addr``: the peer the WSGI
server sees, or the forwarded client when ``BRIDGE_PROXY_HOPS`` names trusted proxies (without
it, every client behind a proxy shares the proxy's address and one budget). IPv6 clients are
counted by their /64, the block one host usually holds.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

import structlog

from bridge.remote.ratelimit import RateLimiterUnavailable, local_bucket, shared_bucket
from bridge.settings import get_settings

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Verdict:
    """``retry_after`` > 0: over budget, answer 429 and write nothing; else keep a receipt?"""

    retry_after: int
    keep_receipt: bool

    @property
    def throttled(self) -> bool:
        return self.retry_after > 0


def client_key(remote_addr: str) -> str:
    """The address as counted: IPv4 as is, IPv6 by its /64, anything else as given."""
    try:
        address = ipaddress.ip_address(remote_addr.strip())
    except ValueError:
        return remote_addr.strip()[:64] or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def judge(remote_addr: str) -> Verdict:
    """Spend one refusal of ``remote_addr``'s budget and say whether its receipt is kept."""
    settings = get_settings()
    key = client_key(remote_addr)
    wait = _take(f"refusals:{key}", settings.refusal_burst, settings.refusals_per_minute / 60)
    if wait > 0:
        return Verdict(retry_after=max(1, math.ceil(wait)), keep_receipt=False)
    sample = _take(f"refusal-receipts:{key}", 1.0, 1 / settings.refusal_receipt_seconds)
    return Verdict(retry_after=0, keep_receipt=sample <= 0)


def _take(name: str, capacity: float, refill_per_second: float) -> float:
    if get_settings().redis_url:
        try:
            return shared_bucket(name, capacity, refill_per_second).try_acquire()
        except RateLimiterUnavailable:
            log.warning("refusal_limiter_unavailable", fallback="per-process buckets")
    # Redis is unreachable: this process's own budget still bounds what a flood can write.
    return local_bucket(name, capacity, refill_per_second).try_acquire()
