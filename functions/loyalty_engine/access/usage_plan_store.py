"""API Gateway's usage plans and API keys of the stage's REST API (a botocore `apigateway`
client): one group's key, found by name, in the group's own plan or the stage's default one.

Names: the group's key `loyalty-<stage>-<group>`, its plan `loyalty-<stage>-group-<group>`
(the default plan is the stack's, by id). Every step looks before it writes, so applying the
same limits again changes nothing, and a run cut short is finished by the next one. A key
is moved out of its other plans on this API stage before it is added to the new one (API
Gateway refuses a key in two plans of one stage); in between, its requests are refused 403
for the time of one API call.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from loyalty_engine.access.quotas import QuotaLimits
from loyalty_engine.kernel.errors import NotFound, ServiceUnavailable


def _failed(error: ClientError) -> Exception:
    code = str(error.response.get("Error", {}).get("Code", ""))
    if code == "NotFoundException":
        return NotFound(
            "API Gateway: the REST API, stage or default plan was not found", code="api_not_found"
        )
    if code in ("TooManyRequestsException", "LimitExceededException", "ServiceUnavailableException"):
        return ServiceUnavailable(f"API Gateway is busy ({code}): try again")
    return error


class UsagePlanStore:
    def __init__(self, client: Any, *, rest_api_id: str, stage: str, stage_name: str, default_plan_id: str):
        self._client = client
        self._api_id = rest_api_id
        self._stage = stage  # the API Gateway stage (`api`)
        self._stage_name = stage_name  # the deployment's (`prod`, `dev`), in names
        self._default_plan_id = default_plan_id

    @property
    def namespace(self) -> str:
        return self._api_id

    def apply(self, group: str, usage_key: str, limits: QuotaLimits | None) -> tuple[str, str]:
        try:
            key_id = self._key(group, usage_key)
            plan_id = self._group_plan(group, limits) if limits is not None else self._default_plan_id
            self._move_key(key_id, plan_id)
        except ClientError as error:
            raise _failed(error) from error
        return key_id, plan_id

    def _key(self, group: str, usage_key: str) -> str:
        name = f"loyalty-{self._stage_name}-{group}"
        pages = self._client.get_paginator("get_api_keys").paginate(nameQuery=name, includeValues=False)
        for page in pages:
            for key in page.get("items", []):
                if key.get("name") == name:
                    if not key.get("enabled", True):
                        self._client.update_api_key(
                            apiKey=key["id"],
                            patchOperations=[{"op": "replace", "path": "/enabled", "value": "true"}],
                        )
                    return str(key["id"])
        made = self._client.create_api_key(
            name=name,
            description=f"usage plan key of loyalty group {group} (key source AUTHORIZER: not a credential)",
            enabled=True,
            value=usage_key,
            tags={"loyalty-group": group},
        )
        return str(made["id"])

    def _group_plan(self, group: str, limits: QuotaLimits) -> str:
        name = f"loyalty-{self._stage_name}-group-{group}"
        for page in self._client.get_paginator("get_usage_plans").paginate():
            for plan in page.get("items", []):
                if plan.get("name") == name:
                    self._update_limits(plan, limits)
                    return str(plan["id"])
        arguments: dict[str, Any] = {
            "name": name,
            "description": f"request limits of loyalty group {group}",
            "apiStages": [{"apiId": self._api_id, "stage": self._stage}],
            "throttle": {"rateLimit": float(limits.rate_per_second), "burstLimit": limits.burst},
            "tags": {"loyalty-group": group},
        }
        if limits.daily_quota is not None:
            arguments["quota"] = {"limit": limits.daily_quota, "period": "DAY"}
        return str(self._client.create_usage_plan(**arguments)["id"])

    def _update_limits(self, plan: dict[str, Any], limits: QuotaLimits) -> None:
        throttle, quota = plan.get("throttle") or {}, plan.get("quota") or {}
        operations = []
        if float(throttle.get("rateLimit") or 0) != float(limits.rate_per_second):
            operations.append(
                {"op": "replace", "path": "/throttle/rateLimit", "value": str(limits.rate_per_second)}
            )
        if int(throttle.get("burstLimit") or 0) != limits.burst:
            operations.append({"op": "replace", "path": "/throttle/burstLimit", "value": str(limits.burst)})
        if limits.daily_quota is None and quota:
            operations.append({"op": "remove", "path": "/quota"})
        elif limits.daily_quota is not None and (int(quota.get("limit") or 0), quota.get("period")) != (
            limits.daily_quota,
            "DAY",
        ):
            operations.append({"op": "replace", "path": "/quota/limit", "value": str(limits.daily_quota)})
            operations.append({"op": "replace", "path": "/quota/period", "value": "DAY"})
        if operations:
            self._client.update_usage_plan(usagePlanId=plan["id"], patchOperations=operations)

    def _move_key(self, key_id: str, plan_id: str) -> None:
        current = set()
        for page in self._client.get_paginator("get_usage_plans").paginate(keyId=key_id):
            for plan in page.get("items", []):
                stages = {(s.get("apiId"), s.get("stage")) for s in plan.get("apiStages", [])}
                if (self._api_id, self._stage) in stages:
                    current.add(str(plan["id"]))
        for other in sorted(current - {plan_id}):
            self._client.delete_usage_plan_key(usagePlanId=other, keyId=key_id)
        if plan_id not in current:
            self._client.create_usage_plan_key(usagePlanId=plan_id, keyId=key_id, keyType="API_KEY")
