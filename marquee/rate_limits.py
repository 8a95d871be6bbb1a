"""Rate limits shared by every worker and replica, through Redis (``MARQUEE_REDIS_URL``).

Without a Redis URL each process counts on its own (:class:`marquee.security.RateLimiter`, token
buckets), so N workers allow N times the configured rate. With one, every process asks the
same Redis through the ``limits`` library: a moving window of one minute per name, which like
the token bucket allows a burst of up to ``per_min`` requests and then ``per_min`` per minute.

When Redis stops answering, requests are not refused for it: this process falls back to its
own buckets (logged once a minute) until Redis answers again.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from marquee.errors import ConfigError
from marquee.security import RateLimiter
from marquee.settings import Settings

log = logging.getLogger(__name__)

NAMESPACE = "marquee"
WARN_EVERY_S = 60.0


class Limiter(Protocol):
    def take(self, name: str, per_min: int) -> float:
        """0 when the request named ``name`` may go on, else the seconds to wait."""


class SharedRateLimiter:
    """Moving one-minute windows in Redis, one per name; ``take`` has :class:`RateLimiter`'s contract."""

    def __init__(self, url: str, *, fallback: RateLimiter | None = None):
        from limits import storage, strategies

        try:
            self.storage = storage.storage_from_string(url, socket_timeout=2, socket_connect_timeout=2)
            reachable = self.storage.check()
        except Exception as exc:  # limits / redis raise their own types for a bad URL
            raise ConfigError(f"MARQUEE_REDIS_URL ({url}) is not usable: {exc}") from exc
        if not reachable:
            raise ConfigError(f"MARQUEE_REDIS_URL: no Redis answers at {url}")
        self.strategy = strategies.MovingWindowRateLimiter(self.storage)
        self.fallback = fallback or RateLimiter()
        self._warned_at = -WARN_EVERY_S

    def take(self, name: str, per_min: int) -> float:
        if per_min <= 0:
            return 0.0
        from limits import RateLimitItemPerMinute

        item = RateLimitItemPerMinute(per_min)
        try:
            if self.strategy.hit(item, NAMESPACE, name):
                return 0.0
            reset_at = self.strategy.get_window_stats(item, NAMESPACE, name).reset_time
        except Exception as exc:  # Redis down or slow: count in this process meanwhile
            self._warn(exc)
            return self.fallback.take(name, per_min)
        return max(0.01, reset_at - time.time())

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned_at >= WARN_EVERY_S:
            self._warned_at = now
            log.warning("Redis rate limits unavailable (%s): counting in this process until it answers", exc)


def make_rate_limiter(settings: Settings) -> Limiter:
    """Shared limits when ``MARQUEE_REDIS_URL`` is set, else this process's token buckets."""
    if settings.redis_url:
        return SharedRateLimiter(settings.redis_url)
    return RateLimiter()
