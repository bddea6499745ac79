"""The REQUEST authorizer's answers, as API Gateway takes them: checked, cached per identity,
and evaluated against the method ARN.

- `authorization_from`: the answer must have a `principalId` and a `policyDocument`; its
  `context` values become strings (a malformed answer is a 500 on API Gateway).
- `AuthorizerCache`: the policy by identity (the `Authorization` header's value) for
  `wiring.AUTHORIZER_CACHE_TTL_S`, as API Gateway caches it (infra/api.py reads the same
  setting); a cached policy is evaluated against each request's method ARN, so a policy that
  names one method only answers 403 on the others until it expires; an `Unauthorized` refusal
  is not cached.
- `policy_allows`: IAM evaluation of `execute-api:Invoke` on the method ARN (an explicit
  Deny wins, else an Allow is needed).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loyalty_engine import wiring

AUTHORIZER_CACHE_TTL_S = float(wiring.AUTHORIZER_CACHE_TTL_S)  # the CDK setting (infra/api.py)
AUTHORIZER_CACHE_MAX_ENTRIES = 10_000


def _arn_pattern(resource: str) -> re.Pattern[str]:
    # IAM wildcards: `*` any run of characters, `?` any one character.
    return re.compile("^" + re.escape(resource).replace(r"\*", ".*").replace(r"\?", ".") + "$")


def policy_allows(policy_document: Any, method_arn: str) -> bool:
    """IAM evaluation for execute-api:Invoke: an explicit Deny wins, else an Allow is needed."""
    if not isinstance(policy_document, dict):
        raise ValueError("policyDocument is not an object")
    statements = policy_document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        raise ValueError("policyDocument.Statement is missing")
    allowed = False
    for statement in statements:
        actions = statement.get("Action", [])
        resources = statement.get("Resource", [])
        actions = [actions] if isinstance(actions, str) else actions
        resources = [resources] if isinstance(resources, str) else resources
        if not any(_arn_pattern(a).match("execute-api:Invoke") for a in actions):
            continue
        if not any(_arn_pattern(r).match(method_arn) for r in resources):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed


@dataclass(frozen=True)
class Authorization:
    principal_id: str
    policy_document: dict[str, Any]
    context: dict[str, str]
    usage_key: str | None = None  # `usageIdentifierKey`: the usage plan key the request counts against


class AuthorizerCache:
    """Policies by identity (the Authorization header), for a TTL; refusals are not cached.

    `clock` (seconds, monotonic) is what the TTL is measured on: a test replaces it to see a
    revoked key refused once the TTL has passed, without waiting for it."""

    def __init__(
        self,
        ttl_s: float = AUTHORIZER_CACHE_TTL_S,
        max_entries: int = AUTHORIZER_CACHE_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.clock = clock
        self._ttl = ttl_s
        self._max = max_entries
        self._entries: dict[str, tuple[float, Authorization]] = {}
        self._lock = threading.Lock()

    def get(self, identity: str) -> Authorization | None:
        with self._lock:
            entry = self._entries.get(identity)
            if entry is None:
                return None
            if entry[0] <= self.clock():
                del self._entries[identity]
                return None
            return entry[1]

    def put(self, identity: str, authorization: Authorization) -> None:
        now = self.clock()
        with self._lock:
            if len(self._entries) >= self._max:
                self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
                while len(self._entries) >= self._max:
                    del self._entries[next(iter(self._entries))]
            self._entries[identity] = (now + self._ttl, authorization)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def authorization_from(result: Any) -> Authorization:
    """Check the authorizer's answer as API Gateway does (a malformed one is a 500 there)."""
    if not isinstance(result, dict):
        raise ValueError("the authorizer did not return an object")
    principal = result.get("principalId")
    document = result.get("policyDocument")
    if not isinstance(principal, str) or not principal or not isinstance(document, dict):
        raise ValueError("the authorizer's answer has no principalId or policyDocument")
    context: dict[str, str] = {}
    for name, value in (result.get("context") or {}).items():
        if isinstance(value, bool):
            context[name] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            context[name] = str(value)
        elif value is not None:
            raise ValueError(f"authorizer context value {name!r} is not a string, number or boolean")
    usage_key = result.get("usageIdentifierKey")
    if usage_key is not None and not isinstance(usage_key, str):
        raise ValueError("the authorizer's usageIdentifierKey is not a string")
    return Authorization(
        principal_id=principal, policy_document=document, context=context, usage_key=usage_key
    )
