"""Pausing Python's cyclic garbage collector around bulk work that allocates many short-lived, acyclic objects.

Parsing an EPCIS document of 1,000 events or encoding a year of results allocates hundreds of thousands of
dicts and lists. Each allocation burst sets off generation-0 and -1 collections, and now and then a full one
that walks every object of the process (hundreds of milliseconds in a worker holding large caches). None of
these objects form cycles, so reference counting frees them anyway; the collector runs again once the work is
done. Nesting is safe: only the outermost pause re-enables it."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic collector for the block (if it was enabled) and enable it again afterwards."""
    was_enabled = gc.isenabled()
    if was_enabled:
        gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
