"""The progress bar: drawn on a terminal only, with its rate and the time left, ended once."""

from __future__ import annotations

import io

from peerflow.cli._progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_shows_share_rate_and_time_left_and_ends_once() -> None:
    ticks = iter([0.0, 1.0, 2.0, 2.05, 4.0, 5.0])
    out = Terminal()
    progress = Progress(out, "programmes", clock=lambda: next(ticks))
    progress(100, 400)  # at 1 s: 100 a second, 300 to go
    progress(200, 400)  # at 2 s
    progress(210, 400)  # 0.05 s later: not redrawn
    progress(400, 400)  # at 4 s: the end
    progress(400, 400)  # a second end (replay_files reports it twice): nothing more
    lines = out.getvalue().split("\r")[1:]
    assert lines == [
        "[######------------------]  25% 100/400 programmes, 100 programmes/s, 3 s left",
        "[############------------]  50% 200/400 programmes, 100 programmes/s, 2 s left",
        "[########################] 100% 400/400 programmes, 100 programmes/s, done in 4.0 s\n",
    ]
    assert all(len(line.rstrip("\n")) <= 100 for line in lines)


def test_nothing_is_drawn_into_a_file_or_a_pipe() -> None:
    out = io.StringIO()
    progress = Progress(out, "MB read", scale=1e6)
    progress(5, 10)
    progress(10, 10)
    assert out.getvalue() == ""
