"""`causeway regions`: what each region of the operator config gives a tenant, as
table rows or JSON-ready records. Pure: built from the parsed config alone."""

from __future__ import annotations

import textwrap
from dataclasses import asdict, dataclass
from typing import Any

from causeway.config import OperatorConfig, RegionConfig
from causeway.domain import endpoint_service_name
from causeway.report.table import EMPTY, format_table

FOOTER_WIDTH = 100
HEADERS = ("REGION", "PLATFORM PRINCIPAL", "INBOUND", "INBOUND SERVICE NAME")

# What a tenant does with each value (the README's tenant steps, in short).
FOOTER = (
    "Outbound (platform -> your VPC): add the PLATFORM PRINCIPAL to the allowed principals "
    "of your endpoint service, apply an OutboundConnection naming the service, then accept "
    "the connection request its status names.",
    "Inbound (your VPC -> platform): from an AWS account listed in your ConnectionQuota, "
    "create an interface endpoint to the INBOUND SERVICE NAME, then apply an "
    "InboundConnection naming that endpoint (vpce-...).",
)


@dataclass(frozen=True)
class RegionOffer:
    """One region as a tenant sees it."""

    region: str
    platformPrincipal: str  # noqa: N815 - the config's own key, also the JSON key
    inbound: bool
    inboundServiceName: str | None  # noqa: N815


def offers(config: OperatorConfig) -> list[RegionOffer]:
    """Every configured region, sorted by name."""
    return [_offer(name, region) for name, region in sorted(config.regions.items())]


def _offer(name: str, region: RegionConfig) -> RegionOffer:
    service = (
        endpoint_service_name(name, region.inboundServiceId)
        if region.inbound_enabled and region.inboundServiceId
        else None
    )
    return RegionOffer(name, region.platformPrincipal, region.inbound_enabled, service)


def regions_table(config: OperatorConfig) -> str:
    """The catalog as a table, then what a tenant does with each column."""
    rows = [
        (
            offer.region,
            offer.platformPrincipal,
            "yes" if offer.inbound else "no",
            offer.inboundServiceName or EMPTY,
        )
        for offer in offers(config)
    ]
    footer = "".join(
        textwrap.fill(line, FOOTER_WIDTH, subsequent_indent="  ") + "\n" for line in FOOTER
    )
    return format_table(HEADERS, rows) + "\n" + footer


def regions_json(config: OperatorConfig) -> list[dict[str, Any]]:
    """The catalog as JSON-ready records (keys as in the operator config)."""
    return [asdict(offer) for offer in offers(config)]
