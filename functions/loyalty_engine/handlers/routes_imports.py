"""Routes of partner uploads: a presigned PUT of one file, and links to an import's reports
(for `partner` and `admin` keys; see `wiring.PARTNER_IMPORTS`)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from loyalty_engine.handlers.api_context import default_context
from loyalty_engine.handlers.rest import caller_of, responses
from loyalty_engine.imports import uploads
from loyalty_engine.imports.uploads import ReportLinks, UploadRequest, UploadTicket

ImportId = Annotated[str, Path(pattern=r"^[A-Z2-7]{26}$")]


def add_imports_routes(app: APIGatewayRestResolver) -> None:
    @app.post("/v1/imports/uploads", responses=responses(200), tags=["imports"])
    def request_upload(request: Annotated[UploadRequest, Body()]) -> UploadTicket:
        """A presigned PUT of one partner file into the key's group's `incoming/` folder, once its
        name is checked (else 422 with the importer's reason: `invalid_file_name`,
        `wrong_universe`, `unknown_subsection`). Send exactly `size` bytes before `expires_at`."""
        return uploads.request_upload(default_context(), caller_of(app), request)

    @app.get("/v1/imports/<import_id>/report", responses=responses(200), tags=["imports"])
    def import_report(import_id: ImportId) -> ReportLinks:
        """Short-lived links to an ended import's reports (409 `report_not_ready` before)."""
        return uploads.report_links(default_context(), caller_of(app), import_id)
