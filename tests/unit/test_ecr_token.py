from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from botocore.exceptions import ClientError

from pipeline_py.clock import FakeClock
from pipeline_py.errors import OperationFailed
from pipeline_py.images.ecr import REFRESH_MARGIN_SECONDS, TokenCache, decode_authorization_token

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def token(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


class FakeEcr:
    def __init__(self, expires_in: timedelta | None, endpoint: str = "https://ecr", region: str = "us-east-1") -> None:
        self.expires_in = expires_in
        self.calls = 0
        self.meta = SimpleNamespace(endpoint_url=endpoint, region_name=region)
        self.clock: FakeClock | None = None

    def get_authorization_token(self) -> dict[str, Any]:
        self.calls += 1
        assert self.clock is not None
        data: dict[str, Any] = {
            "authorizationToken": token("AWS", f"pw-{self.calls}"),
            "proxyEndpoint": "https://123456789012.dkr.ecr.us-east-1.amazonaws.com",
        }
        if self.expires_in is not None:
            data["expiresAt"] = self.clock.utcnow() + self.expires_in
        return {"authorizationData": [data]}


def cache_and_client(expires_in: timedelta | None) -> tuple[TokenCache, FakeEcr, FakeClock]:
    clock = FakeClock(START)
    client = FakeEcr(expires_in)
    client.clock = clock
    return TokenCache(clock), client, clock


def test_decode_splits_at_the_first_colon() -> None:
    assert decode_authorization_token(token("AWS", "a:b:c")) == ("AWS", "a:b:c")
    assert decode_authorization_token(token("AWS", "123456789012-auth-token")) == ("AWS", "123456789012-auth-token")


@pytest.mark.parametrize("bad", ["not base64!", base64.b64encode(b"no-colon").decode(),
                                 base64.b64encode(b":empty-user").decode()])
def test_decode_rejects_malformed_tokens(bad: str) -> None:
    with pytest.raises(OperationFailed):
        decode_authorization_token(bad)


def test_token_is_reused_until_shortly_before_expiry() -> None:
    cache, client, clock = cache_and_client(timedelta(hours=12))
    first = cache.credentials(client)
    assert (first.username, first.password) == ("AWS", "pw-1")
    assert first.registry_host == "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    clock.advance(12 * 3600 - REFRESH_MARGIN_SECONDS - 1)
    assert cache.credentials(client).password == "pw-1"
    assert client.calls == 1
    clock.advance(2)
    assert cache.credentials(client).password == "pw-2"
    assert client.calls == 2


def test_a_token_expired_on_arrival_is_used_once_and_not_cached() -> None:
    cache, client, _ = cache_and_client(timedelta(days=-4000))  # moto: expiresAt 2015-01-01
    assert cache.credentials(client).password == "pw-1"
    assert cache.credentials(client).password == "pw-2"


def test_no_expiry_means_no_caching() -> None:
    cache, client, _ = cache_and_client(None)
    cache.credentials(client)
    cache.credentials(client)
    assert client.calls == 2


def test_invalidate_forces_a_new_token() -> None:
    cache, client, _ = cache_and_client(timedelta(hours=12))
    cache.credentials(client)
    cache.invalidate(client)
    assert cache.credentials(client).password == "pw-2"


def test_cache_is_per_endpoint_and_region() -> None:
    clock = FakeClock(START)
    cache = TokenCache(clock)
    east, west = FakeEcr(timedelta(hours=12)), FakeEcr(timedelta(hours=12), region="eu-west-1")
    east.clock = west.clock = clock
    cache.credentials(east)
    cache.credentials(west)
    cache.credentials(east)
    assert (east.calls, west.calls) == (1, 1)


def test_password_is_not_in_the_repr() -> None:
    cache, client, _ = cache_and_client(timedelta(hours=12))
    assert "pw-1" not in repr(cache.credentials(client))


def test_a_login_refused_by_aws_is_an_operation_failure() -> None:
    class Denied(FakeEcr):
        def get_authorization_token(self) -> dict[str, Any]:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetAuthorizationToken")

    with pytest.raises(OperationFailed, match="ECR login failed"):
        TokenCache(FakeClock(START)).credentials(Denied(None))
