"""How long the cluster index takes to fill at start-up, without a cluster: N
OutboundConnections as a real API server sends them (managedFields, kubectl's
last-applied annotation, a Ready status), served as JSON pages of 500 that the
informer decodes, compacts and swaps into the index in one step. Measures the
informer's own cost (decode + compact + replace), not the network: a real LIST of
10,000 objects adds the API server's time to encode and send about 150 MB.

    python bench/index_fill.py [N ...]      (default: 1000 10000)
"""

from __future__ import annotations

import json
import sys
import time
import tracemalloc
from collections.abc import Iterator
from typing import Any

from causeway.api import FINALIZER, OUTBOUND, KindInfo
from causeway.index import KindIndex
from causeway.index.informer import PAGE_SIZE, Informer
from causeway.kube.objects import Page


def connection(i: int) -> dict[str, Any]:
    name = f"conn-{i:05}"
    spec = {"region": "us-east-1", "serviceName": "com.amazonaws.vpce.us-east-1.vpce-svc-0abc"}
    last_applied = json.dumps(
        {"apiVersion": "causeway.dev/v1", "metadata": {"name": name}, "spec": spec}
    )
    moment = "2026-11-22T09:00:00Z"
    return {
        "apiVersion": "causeway.dev/v1",
        "kind": "OutboundConnection",
        "metadata": {
            "name": name,
            "namespace": f"tenant-{i % 50:02}",
            "uid": f"00000000-0000-0000-0000-{i:012}",
            "resourceVersion": str(1000 + i),
            "generation": 1,
            "creationTimestamp": moment,
            "finalizers": [FINALIZER],
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": last_applied},
            "managedFields": [
                {"manager": m, "operation": "Update", "time": moment, "fieldsV1": {"f:spec": {}}}
                for m in ("kubectl", "causeway", "kopf")
            ],
        },
        "spec": spec,
        "status": {
            "phase": "Ready",
            "vpcEndpointId": f"vpce-{i:017x}",
            "dnsEntries": [f"vpce-{i:017x}.vpce-svc-0abc.us-east-1.vpce.amazonaws.com"],
            "observedGeneration": 1,
            "lastSyncTime": moment,
            "conditions": [
                {
                    "type": t,
                    "status": "True",
                    "reason": "Available",
                    "message": "ok",
                    "lastTransitionTime": moment,
                    "observedGeneration": 1,
                }
                for t in ("Ready", "Synced")
            ],
        },
    }


class JsonPages:
    """A listing of N objects, each page as the JSON bytes the API server sends."""

    def __init__(self, count: int) -> None:
        objects = [connection(i) for i in range(count)]
        listed = {"resourceVersion": "99999"}
        self.pages = [
            json.dumps({"metadata": listed, "items": objects[i : i + PAGE_SIZE]}).encode()
            for i in range(0, count, PAGE_SIZE)
        ] or [json.dumps({"metadata": listed, "items": []}).encode()]
        self.bytes = sum(len(p) for p in self.pages)

    def list_page(self, kind: KindInfo, *, limit: int, token: str = "") -> Page:
        number = int(token or 0)
        reply = json.loads(self.pages[number])
        more = number + 1 < len(self.pages)
        return Page(
            reply["items"], reply["metadata"]["resourceVersion"], str(number + 1) if more else ""
        )

    def watch(self, kind: KindInfo, since: str) -> Iterator[dict[str, Any]]:
        yield from ()


def measure(count: int) -> dict[str, float]:
    """The fill's time (best of 3), then, in a run of its own (tracemalloc slows it),
    what the filled index holds and the peak while filling."""
    source = JsonPages(count)
    times = []
    for _ in range(3):
        index = KindIndex()
        started = time.perf_counter()
        Informer(OUTBOUND, index, source).relist()
        times.append(time.perf_counter() - started)
        assert len(index.all()) == count
    del index
    tracemalloc.start()
    index = KindIndex()
    Informer(OUTBOUND, index, source).relist()
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "objects": count,
        "listing_mb": round(source.bytes / 1e6, 1),
        "fill_seconds": round(min(times), 2),
        "index_mib": round(held / 2**20, 1),
        "peak_mib": round(peak / 2**20, 1),
    }


def main(argv: list[str]) -> None:
    for count in [int(a) for a in argv] or [1000, 10000]:
        print(json.dumps(measure(count)))


if __name__ == "__main__":
    main(sys.argv[1:])
