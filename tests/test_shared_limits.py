"""Rate limits shared through Redis: two replicas of the app count one client's requests together."""

from __future__ import annotations

import httpx
import pytest

from marquee.errors import ConfigError
from marquee.rate_limits import SharedRateLimiter, make_rate_limiter
from marquee.security import RateLimiter
from marquee.web import create_app
from marquee.serving import serve_in_thread

API = "/api/v1"


def test_two_replicas_share_one_clients_limit(marquee, redis_server):
    settings = marquee.settings.model_copy(update={
        "site_keys": {"shop-key": ["https://shop.example"]}, "redis_url": redis_server.url,
        "rate_limit_ip_per_min": 0, "rate_limit_key_per_min": 3,
    })
    with serve_in_thread(create_app(marquee, settings, ui=False)) as first, \
            serve_in_thread(create_app(marquee, settings, ui=False)) as second:
        codes = []
        for url in (first, second, first, second):
            response = httpx.post(f"{url}{API}/conversations", json={}, headers={"X-Marquee-Key": "shop-key"})
            codes.append(response.status_code)
        assert codes == [201, 201, 201, 429]  # alone, each replica would still have allowed it
        assert response.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(response.headers["retry-after"]) <= 60


def test_without_redis_each_process_counts_alone(marquee):
    assert isinstance(make_rate_limiter(marquee.settings), RateLimiter)


def test_a_redis_that_stops_answering_does_not_refuse_requests(redis_server, caplog):
    from evals.services import start_redis

    own = start_redis()
    limiter = SharedRateLimiter(own.url)
    assert [limiter.take("ip:1.2.3.4", 2) for _ in range(2)] == [0.0, 0.0]
    assert limiter.take("ip:1.2.3.4", 2) > 0
    own.stop()
    assert limiter.take("ip:5.6.7.8", 2) == 0.0  # counted in this process meanwhile
    assert "counting in this process" in caplog.text


def test_an_unreachable_redis_stops_start_up_naming_the_setting():
    from evals.services import free_port

    with pytest.raises(ConfigError, match="MARQUEE_REDIS_URL"):
        SharedRateLimiter(f"redis://127.0.0.1:{free_port()}/0")
