"""What the CLI shows people about Causeway, built without I/O: the region catalog
(`causeway regions`), per-namespace status tables with next steps and quota usage
(`causeway status`, also as JSON), and the table layout both use."""

from causeway.report.document import status_document
from causeway.report.regions import offers, regions_json, regions_table
from causeway.report.status import (
    STATUS_KINDS,
    ObjectReport,
    QuotaReport,
    next_steps,
    object_report,
    quota_report,
    render_status,
)
from causeway.report.table import age, format_table

__all__ = [
    "STATUS_KINDS",
    "ObjectReport",
    "QuotaReport",
    "age",
    "format_table",
    "next_steps",
    "object_report",
    "offers",
    "quota_report",
    "regions_json",
    "regions_table",
    "render_status",
    "status_document",
]
