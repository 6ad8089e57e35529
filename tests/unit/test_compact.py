"""What the operator keeps for every object and endpoint shares repeated keys and
values (one copy per process), and stays equal to what it was made from."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from dateutil.tz import tzutc

from causeway.aws.connections import to_request
from causeway.aws.endpoints import to_endpoint
from causeway.compact import SHARED_STRING_MAX, compact, utc
from causeway.domain import TAG_NAMESPACE


def decoded(value: Any) -> Any:
    return json.loads(json.dumps(value))  # fresh strings, as from a watch event


def test_a_compact_copy_is_equal_and_shares_keys_and_short_values() -> None:
    body = {"status": {"phase": "Ready", "message": "m" * (SHARED_STRING_MAX + 1)}}
    first, second = compact(decoded(body)), compact(decoded(body))
    assert first == second == body
    (key_1,), (key_2,) = first["status"].keys() - {"message"}, second["status"].keys() - {"message"}
    assert key_1 is key_2
    assert first["status"]["phase"] is second["status"]["phase"]
    assert first["status"]["message"] is not second["status"]["message"]  # long: its own


def test_times_move_to_the_one_utc_zone_and_keep_their_instant() -> None:
    plus_two = datetime(2026, 12, 2, 11, 0, tzinfo=timezone(timedelta(hours=2)))
    assert utc(plus_two) == plus_two and utc(plus_two).tzinfo is UTC
    assert utc(datetime(2026, 12, 2, 9, 0)) == datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


CREATED = datetime(2026, 12, 2, 9, 0, tzinfo=tzutc())  # as botocore parses it


def record(**extra: object) -> dict[str, object]:
    return {
        "VpcEndpointId": "vpce-0123456789abcdef0",
        "State": "available",
        "ServiceName": "com.amazonaws.vpce.us-east-1.vpce-svc-0123456789abcdef0",
        "VpcId": "vpc-0123456789abcdef0",
        "Groups": [{"GroupId": "sg-0123456789abcdef0"}],
        "Tags": [{"Key": TAG_NAMESPACE, "Value": "acme"}],
        **extra,
    }


def test_endpoint_records_share_what_repeats_across_endpoints() -> None:
    first, second = (to_endpoint({**decoded(record()), "CreationTimestamp": CREATED}) for _ in "12")
    assert first == second
    for field in ("state", "service_name", "vpc_id", "owner_namespace"):
        assert getattr(first, field) is getattr(second, field), field
    assert first.security_groups[0] is second.security_groups[0]
    assert first.created is not None and first.created.tzinfo is UTC


def test_connection_requests_share_what_repeats_across_requests() -> None:
    item = {
        "VpcEndpointId": "vpce-1",
        "VpcEndpointOwner": "111122223333",
        "VpcEndpointState": "pendingAcceptance",
    }
    first, second = to_request(decoded(item)), to_request(decoded(item))
    assert first == second
    assert first.state is second.state and first.owner_account is second.owner_account
