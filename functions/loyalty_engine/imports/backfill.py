"""The imports list's pointers of jobs received before the list existed (`GET /v1/imports`).

A job item is keyed by its id alone, so a group's older jobs are found through the imports
bucket, never a table scan: the ids in the names of the group's reports (`reports/G/…-<id>.
report.json`, kept 400 days), of its handled files (`processed/G/<id>/`, 90 days) and of the
files still waiting (`incoming/G/`, their id from key and version). Puts only (a pointer put
again is the same item: its sort key is the job's received time), so it can run at any time and
again. A job whose report and file have both expired stays out of the list (found by `file`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from loyalty_engine.imports.files import INCOMING, PROCESSED, REPORTS
from loyalty_engine.imports.jobs import ImportJob, job_id_for
from loyalty_engine.imports.store import listed_item
from loyalty_engine.kernel import keys
from loyalty_engine.kernel.batch import batch_get, batch_put
from loyalty_engine.kernel.model import DeferredModel
from loyalty_engine.kernel.objects import ObjectStore
from loyalty_engine.kernel.records import data_of

_REPORT_ID = re.compile(r"-([A-Z2-7]{26})\.report\.json$")
_PROCESSED_ID = re.compile(r"^([A-Z2-7]{26})/")


class ImportsBackfillReport(DeferredModel):
    group: str
    found: int  # import ids named in the bucket
    listed: int  # jobs whose pointer was written (again)


@dataclass
class ImportsBackfill:
    client: Any
    table: str
    objects: ObjectStore

    def run(self, group: str) -> ImportsBackfillReport:
        ids = self._ids(group)
        found = batch_get(
            self.client, self.table, [(keys.import_pk(group, i), keys.JOB_SK) for i in sorted(ids)]
        )
        jobs = [ImportJob.model_validate(data_of(values)) for values in found.values()]
        batch_put(self.client, self.table, [listed_item(group, job) for job in jobs])
        return ImportsBackfillReport(group=group, found=len(ids), listed=len(jobs))

    def _ids(self, group: str) -> set[str]:
        ids: set[str] = set()
        for key in self.objects.keys_under(f"{REPORTS}{group}/"):
            if match := _REPORT_ID.search(key):
                ids.add(match[1])
        processed = f"{PROCESSED}{group}/"
        for key in self.objects.keys_under(processed):
            if match := _PROCESSED_ID.match(key[len(processed) :]):
                ids.add(match[1])
        for key in self.objects.keys_under(f"{INCOMING}{group}/"):
            stored = self.objects.head(key)
            if stored is not None:
                ids.add(job_id_for(key, stored.version))
        return ids
