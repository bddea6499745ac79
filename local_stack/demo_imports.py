"""The partner side of the demo: reward files dropped into the import bucket, then the API.

Files are uploaded burn first, earn second, catalog last (as a partner might), and are
applied catalog → earn → burn all the same. Then a web shop buys and burns a reward.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, TextIO

from local_stack.demo_client import GROUP, DemoClient, ScenarioResult, field

GENERATED_CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{20}$")

if TYPE_CHECKING:
    from local_stack.stack import LocalStack

FILE_TZ = timezone(timedelta(hours=1))


def _count(path: str, expected: int) -> Any:
    def check(body: Any) -> str | None:
        (job,) = body.get("imports") or [{}]
        value = (job.get("progress") or {}).get(path)
        return None if value == expected else f"{path} is {value!r}, expected {expected}"

    return check


def run_import_scenario(stack: LocalStack, *, out: TextIO = sys.stdout, suffix: str = "") -> ScenarioResult:
    c = DemoClient(stack.api_url, stack.keys, out)
    program_id = f"partner-club{suffix}"
    cards = [f"PARTNER-0001{suffix}".upper(), f"PARTNER-0002{suffix}".upper()]
    now = datetime.now(FILE_TZ).replace(microsecond=0)
    day = now.strftime("%Y%m%d")
    stamp = (now - timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")
    until = (now + timedelta(days=30)).strftime("%Y-%m-%d %H:%M:%S")

    out.write("\nPartner files (S3 -> SQS -> importer)\n")
    c.call(
        "a program whose members receive partner rewards",
        "PUT",
        f"/v1/programs/{program_id}",
        body={
            "name": f"Partner club{suffix}",
            "currency": "EUR",
            "starts_at": "2025-01-01T00:00:00+01:00",
            "card_codes": {"generation": "manual"},
            "nq_points": {"conversion_rate": "1", "rounding": "down"},
        },
        expect=201,
    )
    for card in cards:
        c.call(
            f"enrol {card}",
            "POST",
            f"/v1/programs/{program_id}/members",
            body={"card_code": card},
            expect=201,
        )

    names = {
        scope: f"{GROUP}_{scope}_{program_id}_{day}.csv"
        for scope in ("masterreward", "earnreward", "burnreward")
    }
    files = {
        "burnreward": (
            "card_code;attribution_id;burn_date;context\n"
            f"{cards[0]};WELCOME-1{suffix};{stamp};till 3\n"
            f"{cards[1]};NO-SUCH{suffix};{stamp};till 3\n"
        ),
        "earnreward": (
            "reward_id;card_code;attribution_id;validity_start_date;validity_end_date;context\n"
            f"welcome{suffix};{cards[0]};WELCOME-1{suffix};{stamp};{until};partner\n"
            f"welcome{suffix};{cards[1]};WELCOME-2{suffix};{stamp};{until};partner\n"
            f"welcome{suffix};UNKNOWN-CARD;WELCOME-3{suffix};{stamp};{until};partner\n"
        ),
        "masterreward": (
            "external_id;name;monetary;nqp_value;holding_days;validity_interval_count;"
            "validity_interval_type;forced_validity;is_limited;max_attribution_count\n"
            f"welcome{suffix};Welcome gift;0;0;0;1;month;0;1;100\n"
            f"coffee{suffix};Free coffee;0;0;0;2;Weeks;0;0;50\n"
            f"broken{suffix};No stock;0;10;0;1;day;0;0;0\n"
        ),
    }
    s3 = stack.client("s3")
    bucket = stack.bucket_name("Imports")
    for scope in ("burnreward", "earnreward", "masterreward"):  # the wrong order, on purpose
        s3.put_object(Bucket=bucket, Key=f"incoming/{GROUP}/{names[scope]}", Body=files[scope].encode())
        out.write(f"  uploaded s3://{bucket}/incoming/{GROUP}/{names[scope]}\n")
    stack.wait_for_queues(timeout=60)

    for scope, applied, skipped in (("masterreward", 2, 1), ("earnreward", 2, 1), ("burnreward", 1, 1)):
        c.call(
            f"{scope}: {applied} applied, {skipped} skipped",
            "GET",
            f"/v1/imports?file={names[scope]}",
            expect=200,
            checks=(_count("applied", applied), _count("skipped", skipped)),
        )
    skipped_key = _newest_report(s3, bucket, names["earnreward"]) + ".skipped.csv"
    report = s3.get_object(Bucket=bucket, Key=skipped_key)
    lines = report["Body"].read().decode().splitlines()
    out.write(f"  {skipped_key}:\n")
    out.writelines(f"    {line}\n" for line in lines)
    summary_key = _newest_report(s3, bucket, names["masterreward"]) + ".report.json"
    summary = json.loads(s3.get_object(Bucket=bucket, Key=summary_key)["Body"].read())
    out.write(f"  masterreward report: {summary['applied']} applied, {summary['skipped']} skipped\n")
    c.call(
        f"{cards[0]}'s welcome gift was burned by the burn file",
        "GET",
        f"/v1/members/{cards[0]}/rewards",
        key=(GROUP, "shop"),
        expect=200,
        checks=(_first("burned", 1),),
    )

    out.write("\nThe web shop: buy and burn a reward\n")

    def _one_generated_code(body: Any) -> str | None:
        codes = body.get("codes") if isinstance(body, dict) else None
        if isinstance(codes, list) and len(codes) == 1 and GENERATED_CODE.match(str(codes[0])):
            return None
        return f"codes is {codes!r}, expected one generated code (20 Crockford base32 characters)"

    buy = {"reward_id": f"coffee{suffix}", "quantity": 1, "context": "web"}
    bought = c.call(
        "buy a free coffee (Idempotency-Key)",
        "POST",
        f"/v1/members/{cards[1]}/rewards",
        body=buy,
        key=(GROUP, "shop"),
        headers={"Idempotency-Key": f"buy-coffee{suffix}"},
        expect=201,
        checks=(_one_generated_code,),
    )
    attribution = bought.get("attribution_id") if isinstance(bought, dict) else "unknown"
    c.call(
        "the same purchase retried: the same attribution",
        "POST",
        f"/v1/members/{cards[1]}/rewards",
        body=buy,
        key=(GROUP, "shop"),
        headers={"Idempotency-Key": f"buy-coffee{suffix}"},
        expect=201,
        checks=(field("attribution_id", attribution),),
    )
    path = f"/v1/members/{cards[1]}/rewards/{attribution}/burns"
    c.call(
        "burn it at the till",
        "POST",
        path,
        body={"store_id": "paris-04"},
        key=(GROUP, "shop"),
        headers={"Idempotency-Key": f"use-coffee{suffix}"},
        expect=201,
        checks=(field("remaining", 0),),
    )
    c.call(
        "burn it again: refused",
        "POST",
        path,
        body={"store_id": "paris-04"},
        key=(GROUP, "shop"),
        headers={"Idempotency-Key": f"use-coffee-again{suffix}"},
        expect=409,
        checks=(field("code", "already_burned"),),
    )
    return c.finish()


def _first(name: str, expected: Any) -> Any:
    def check(body: Any) -> str | None:
        items = body.get("attributions") or [{}]
        value = items[0].get(name)
        return None if value == expected else f"attributions[0].{name} is {value!r}, expected {expected!r}"

    return check


def _newest_report(s3: Any, bucket: str, name: str) -> str:
    """`reports/<group>/<name>/<received>-<import id>` of the name's newest import."""
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"reports/{GROUP}/{name}/").get("Contents", [])
    return max(k["Key"] for k in listed if k["Key"].endswith(".report.json")).removesuffix(".report.json")
