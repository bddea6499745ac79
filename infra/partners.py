"""Partners who upload with their own AWS credentials (the AWS CLI, an SDK) instead of the API's
presigned URLs: each partner principal may put `incoming/<group>/*` and get `reports/<group>/*`
of the import bucket, for its one loyalty group, and list the names under `reports/<group>/`
(the report of an upload is named after its time and import id), nothing more.

The grants are statements of the import bucket's policy (a resource policy), not roles of
ours: a partner's principal usually lives in the partner's own AWS account, where only a
resource policy can let it in (the partner's account must also allow its principal those two
actions on our bucket, as for any cross-account access). Objects it uploads belong to the
bucket owner (bucket-owner-enforced ownership), and the bucket's deny of plain HTTP applies.

The list comes from the CDK context `partners`:
`cdk deploy -c partners='[{"principal": "arn:aws:iam::111122223333:role/shop-uploader", "group": "shop"}]'`
(or in cdk.json). A principal appears once (one group per principal, as an API key has one).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from loyalty_engine.imports.files import INCOMING, REPORTS
from loyalty_engine.kernel.types import SLUG_PATTERN

PARTNERS_CONTEXT = "partners"
_PRINCIPAL = re.compile(r"^arn:aws[a-z-]*:(iam::[0-9]{12}:(role|user)/[\w+=,.@/-]+|iam::[0-9]{12}:root)$")
_GROUP = re.compile(SLUG_PATTERN)


@dataclass(frozen=True)
class Partner:
    principal_arn: str  # an IAM role or user (or an account root) of the partner
    group: str  # the loyalty group it uploads for

    def __post_init__(self) -> None:
        if not _PRINCIPAL.fullmatch(self.principal_arn):
            raise ValueError(
                f"partner principal {self.principal_arn!r}: expected an IAM role, user or root ARN"
            )
        if not _GROUP.fullmatch(self.group):
            raise ValueError(f"partner group {self.group!r} is not a loyalty group slug")


def partners_from_context(value: Any) -> list[Partner]:
    """The `partners` context: a JSON list (or its text, as `-c` gives it) of
    `{"principal": ARN, "group": slug}`; absent: no partner."""
    if value is None or value == "":
        return []
    entries = json.loads(value) if isinstance(value, str) else value
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ValueError('context "partners": expected a list of {"principal": ARN, "group": slug}')
    partners = []
    for entry in entries:
        if set(entry) != {"principal", "group"}:
            raise ValueError(f'context "partners": entry {entry!r} needs exactly "principal" and "group"')
        partners.append(Partner(str(entry["principal"]), str(entry["group"])))
    principals = [p.principal_arn for p in partners]
    repeated = sorted({p for p in principals if principals.count(p) > 1})
    if repeated:
        raise ValueError(f'context "partners": principals listed more than once: {repeated}')
    return partners


class PartnerUploads(Construct):
    """Bucket policy statements: per partner, PutObject on `incoming/<group>/*`, GetObject on
    `reports/<group>/*` and ListBucket under the prefix `reports/<group>/` of `bucket`."""

    def __init__(self, scope: Construct, construct_id: str, *, bucket: s3.IBucket, partners: list[Partner]):
        super().__init__(scope, construct_id)
        self.statements: list[iam.PolicyStatement] = []
        for number, partner in enumerate(partners, start=1):
            principal = iam.ArnPrincipal(partner.principal_arn)
            for sid, action, prefix in (
                ("Upload", "s3:PutObject", INCOMING),
                ("Reports", "s3:GetObject", REPORTS),
            ):
                statement = iam.PolicyStatement(
                    sid=f"Partner{number}{sid}",  # unique in the policy; letters and digits only
                    principals=[principal],
                    actions=[action],
                    resources=[bucket.arn_for_objects(f"{prefix}{partner.group}/*")],
                )
                bucket.add_to_resource_policy(statement)
                self.statements.append(statement)
            # Report names carry the upload's time and import id: listing the group's own
            # reports folder (names only) is how a partner on the CLI finds them.
            listing = iam.PolicyStatement(
                sid=f"Partner{number}ListReports",
                principals=[principal],
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{REPORTS}{partner.group}/*"]}},
            )
            bucket.add_to_resource_policy(listing)
            self.statements.append(listing)
