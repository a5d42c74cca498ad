"""The status line: rates, share done and ETA, drawn only when enabled, erased at the end."""

from __future__ import annotations

import io

from hiddenpool.encode.progress import Progress, format_seconds


def test_status_line_shows_rates_share_and_eta():
    stream = io.StringIO()
    progress = Progress(enabled=True, stream=stream, interval=0.0)
    progress.skip(100, 0.1)  # an earlier run did the first 10%
    progress.update(50, 1000, 0.2)
    progress.update(50, 1000, 0.3, force=True)
    line = stream.getvalue().split("\r")[-1]
    assert line.startswith("embedding 200 texts · ")
    assert "texts/s" in line and "tokens/s" in line and "30%" in line and "ETA " in line
    progress.close()
    assert stream.getvalue().endswith("\r")  # the line is blanked out


def test_disabled_progress_writes_nothing():
    stream = io.StringIO()
    progress = Progress(enabled=False, stream=stream)
    progress.update(10, 100, 0.5, force=True)
    progress.close()
    assert stream.getvalue() == "" and progress.texts == 10 and progress.tokens == 100


def test_unknown_total_has_no_eta():
    stream = io.StringIO()
    progress = Progress(enabled=True, stream=stream, interval=0.0)
    progress.update(5, 50, None)
    assert "ETA" not in stream.getvalue() and "%" not in stream.getvalue()


def test_durations_read_like_a_clock():
    assert [format_seconds(s) for s in (0.4, 59, 61, 3599, 3600, 90061)] == [
        "0s",
        "59s",
        "1m01s",
        "59m59s",
        "1h00m",
        "25h01m",
    ]


def test_chunk_callback_counts_texts_and_moves_the_share_within_the_chunk():
    progress = Progress(enabled=False)
    progress.skip(0, 0.5)  # the input is half done before this chunk
    on_batch = progress.for_chunk(10, 1.0)
    on_batch(0.35, 70)
    assert (progress.texts, progress.tokens, progress.fraction) == (4, 70, 0.675)
    on_batch(1.0, 130)
    assert (progress.texts, progress.tokens, progress.fraction) == (10, 200, 1.0)
