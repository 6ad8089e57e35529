"""The C allocator's settings: the arena cap (set through mallopt unless the operator's
environment already says MALLOC_ARENA_MAX, quietly skipped where the C library has no
mallopt) and the background trim of free heap pages."""

from __future__ import annotations

import sys
import threading

import pytest

from causeway.allocator import ARENAS, cap_malloc_arenas, trim_periodically


class RecordingMallopt:
    def __init__(self, answer: int = 1) -> None:
        self.calls: list[tuple[int, int]] = []
        self.answer = answer

    def __call__(self, parameter: int, value: int) -> int:
        self.calls.append((parameter, value))
        return self.answer


def test_the_cap_is_set_through_mallopt() -> None:
    mallopt = RecordingMallopt()
    assert cap_malloc_arenas({}, mallopt) is True
    assert mallopt.calls == [(-8, ARENAS)]  # M_ARENA_MAX in glibc's malloc.h


def test_an_operator_who_set_malloc_arena_max_keeps_their_value() -> None:
    mallopt = RecordingMallopt()
    assert cap_malloc_arenas({"MALLOC_ARENA_MAX": "4"}, mallopt) is False
    assert mallopt.calls == []


def test_a_refused_cap_is_reported_as_not_set() -> None:
    assert cap_malloc_arenas({}, RecordingMallopt(answer=0)) is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_glibc_accepts_the_cap() -> None:
    assert cap_malloc_arenas({}) is True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_free_pages_are_handed_back_on_a_background_thread() -> None:
    stop = threading.Event()
    thread = trim_periodically(interval=0.01, stop=stop)
    assert thread is not None and thread.daemon and thread.name == "malloc-trim"
    thread.join(0.1)
    assert thread.is_alive()  # trimming goes on until stopped
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
