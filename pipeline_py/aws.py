"""The one place boto3 clients are made.

Region, profile and an optional ``sts:AssumeRole`` come from config; endpoints come from the
standard ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` variables that botocore already
honours, so the local stack is just another endpoint and no code path special-cases it.
Every API call made through these clients is counted (``api_calls``) for results and benchmarks.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.session
from botocore.config import Config as BotoConfig
from botocore.credentials import DeferredRefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, ProfileNotFound

from pipeline_py.errors import BadInput, OperationFailed


@dataclass
class AwsSettings:
    region: str | None = None
    profile: str | None = None
    role_arn: str | None = None
    external_id: str | None = None
    role_session_name: str = "pipeline-py"
    max_attempts: int = 8
    retry_mode: str = "adaptive"


@dataclass
class ApiCallCounter:
    calls: Counter = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, name: str) -> None:
        with self._lock:
            self.calls[name] += 1

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"total": sum(self.calls.values()), "by_operation": dict(sorted(self.calls.items()))}


class AwsFactory:
    """Caches one client per service; counts calls; assumes a role when configured."""

    def __init__(self, settings: AwsSettings | None = None, counter: ApiCallCounter | None = None) -> None:
        self.settings = settings or AwsSettings()
        self.counter = counter or ApiCallCounter()
        self._session: boto3.Session | None = None
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _boto_config(self, retries: bool = True) -> BotoConfig:
        return BotoConfig(
            # max_attempts counts retries (the first attempt is not one of them): 0 = the call is sent once
            retries={"max_attempts": self.settings.max_attempts if retries else 0, "mode": self.settings.retry_mode},
            user_agent_extra="pipeline-py",
        )

    @property
    def session(self) -> boto3.Session:
        if self._session is None:
            try:
                base = boto3.Session(profile_name=self.settings.profile, region_name=self.settings.region)
            except ProfileNotFound as exc:
                raise BadInput(f"AWS profile {self.settings.profile!r} not found: {exc}") from None
            if self.settings.role_arn:
                base = self._assume_role(base)
            self._session = base
        return self._session

    def _assume_role(self, base: boto3.Session) -> boto3.Session:
        """A session whose credentials refresh themselves by re-assuming the role before expiry."""
        s = self.settings
        sts = base.client("sts", config=self._boto_config())
        self._count(sts)

        def refresh() -> dict[str, str]:
            kwargs: dict[str, Any] = {"RoleArn": s.role_arn, "RoleSessionName": s.role_session_name}
            if s.external_id:
                kwargs["ExternalId"] = s.external_id
            try:
                creds = sts.assume_role(**kwargs)["Credentials"]
            except ClientError as exc:
                raise OperationFailed(f"cannot assume role {s.role_arn}: {exc}") from None
            return {
                "access_key": creds["AccessKeyId"],
                "secret_key": creds["SecretAccessKey"],
                "token": creds["SessionToken"],
                "expiry_time": creds["Expiration"].isoformat()
                if hasattr(creds["Expiration"], "isoformat")
                else str(creds["Expiration"]),
            }

        bc = botocore.session.get_session()
        bc._credentials = DeferredRefreshableCredentials(refresh_using=refresh, method="sts-assume-role")
        region = s.region or base.region_name
        if region:
            bc.set_config_variable("region", region)
        return boto3.Session(botocore_session=bc)

    def _count(self, client: Any) -> None:
        service = client.meta.service_model.service_name

        def on_call(model: Any, **_: Any) -> None:
            self.counter.record(f"{service}.{model.name}")

        client.meta.events.register("before-call", on_call)

    def client(self, service: str, region: str | None = None, *, retries: bool = True) -> Any:
        """The service's client; ``region`` for one outside the session's region (a terraform state
        backend kept in another region). ``retries=False``: a client that never repeats a call itself,
        for calls that are not idempotent (the caller checks what happened before it retries)."""
        other_region = region is not None and region != self.session.region_name
        key = (f"{service}@{region}" if other_region else service) + ("" if retries else " (no retries)")
        with self._lock:
            if key not in self._clients:
                try:
                    c = self.session.client(service, config=self._boto_config(retries),
                                            **({"region_name": region} if other_region else {}))
                except NoCredentialsError as exc:
                    raise BadInput(f"no AWS credentials: {exc}") from None
                except BotoCoreError as exc:
                    raise BadInput(f"cannot create the {service} client: {exc}") from None
                self._count(c)
                self._clients[key] = c
            return self._clients[key]

    @property
    def region(self) -> str:
        return self.session.region_name or "us-east-1"


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""
