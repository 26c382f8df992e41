"""Bulk work without the cyclic garbage collector.

Reading and replaying thousands of histories allocates millions of small objects that form no
reference cycles; the collector would still walk all of them again and again (measured: it
took three quarters of a replay's time). Reference counting frees them as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic collector for the block, if it was running; restore it after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
