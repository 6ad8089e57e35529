"""The cluster index, in one room: `informer` lists every Causeway kind in pages and
then follows its watch from the listing's resourceVersion (a re-list after 410 Gone
replaces a kind at once); `views` keeps the objects, compacted (causeway.compact), and
answers the controllers' reads. The Kubernetes calls themselves are causeway.kube's."""

from causeway.index.views import (
    UNKEPT_ANNOTATIONS,
    ClusterIndex,
    KindIndex,
    ObjectSnapshot,
    kept,
    merge_patch,
)

__all__ = [
    "UNKEPT_ANNOTATIONS",
    "ClusterIndex",
    "KindIndex",
    "ObjectSnapshot",
    "kept",
    "merge_patch",
]
