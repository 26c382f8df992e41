"""A progress bar for long commands (replay, import): on a terminal only, one line redrawn
in place, with the rate and the time left, ended once."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

WIDTH = 24
"""Characters of the bar itself: the whole line stays within 80 columns."""


class Progress:
    """``progress(done, total)``; silent when ``stream`` is not a terminal (a log, a pipe)."""

    def __init__(
        self,
        stream: TextIO,
        unit: str,
        *,
        scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        every: float = 0.1,
    ) -> None:
        self.stream = stream if stream.isatty() else None
        self.unit = unit
        self.scale = scale
        self.clock = clock
        self.every = every
        self.started = clock()
        self.drawn = -every
        self.ended = False

    def __call__(self, done: int, total: int) -> None:
        if self.stream is None or self.ended:
            return
        now = self.clock()
        final = done >= total
        if not final and now - self.drawn < self.every:
            return  # redrawing faster than the eye reads costs time for nothing
        self.drawn = now
        self.stream.write("\r" + self.line(done, total, now - self.started))
        if final:
            self.stream.write("\n")
            self.ended = True
        self.stream.flush()

    def line(self, done: int, total: int, elapsed: float) -> str:
        share = done / total if total else 1.0
        filled = round(share * WIDTH)
        bar = "#" * filled + "-" * (WIDTH - filled)
        amount = f"{done / self.scale:,.0f}/{total / self.scale:,.0f} {self.unit}"
        rate = done / elapsed / self.scale if elapsed > 0 else 0.0
        if done >= total:
            left = f"done in {elapsed:.1f} s"
        elif rate > 0:
            left = f"{(total - done) / self.scale / rate:.0f} s left"
        else:
            left = "..."
        return f"[{bar}] {share:4.0%} {amount}, {rate:,.0f} {self.unit}/s, {left}"
