"""Write the region-name pattern of botocore's endpoint data (every partition's
regionRegex) into the chart's values schema, so the chart accepts exactly the region
names the operator does. tests/deploy/test_chart.py fails when the two drift.

Run from the repository root: `sh tools/uv run python tools/sync_region_pattern.py`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from causeway.aws.regions import region_name_pattern

SCHEMA = Path("charts/causeway/values.schema.json")


def main() -> int:
    schema = json.loads(SCHEMA.read_text())
    names = schema["properties"]["config"]["properties"]["regions"]["propertyNames"]
    remote = schema["definitions"]["regionName"]  # remoteServiceRegions' items
    if names.get("pattern") == remote.get("pattern") == region_name_pattern():
        sys.stdout.write(f"{SCHEMA} (unchanged)\n")
        return 0
    names["pattern"] = remote["pattern"] = region_name_pattern()
    SCHEMA.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.write(f"{SCHEMA} (changed)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
