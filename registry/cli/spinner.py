"""A terminal spinner for the waits of ``run`` (loading a model, the first token), as Ollama's CLI
shows one: braille frames on one line of a terminal stream, erased when the wait ends. On a stream
that is not a terminal it writes nothing."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TextIO

__all__ = ["FRAMES", "Spinner"]

#: Ollama's frames.
FRAMES = ("⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏")

#: Seconds between frames.
INTERVAL = 0.1


class Spinner:
    """``with Spinner(stream):`` spins until the block ends or :meth:`stop` is called (idempotent).
    The first frame is drawn at once."""

    def __init__(self, stream: TextIO, message: str = "") -> None:
        self._stream = stream
        self._message = message
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        try:
            self._active = stream.isatty()
        except (AttributeError, ValueError):
            self._active = False

    def _draw(self, frame: str) -> None:
        with self._lock:
            if not self._done.is_set():
                text = f"{self._message} {frame}" if self._message else frame
                self._stream.write(f"\r{text}\x1b[K")
                self._stream.flush()

    def _spin(self) -> None:
        index = 1
        while not self._done.wait(INTERVAL):
            self._draw(FRAMES[index % len(FRAMES)])
            index += 1

    def start(self) -> Spinner:
        """Draw the first frame and keep spinning in a thread."""
        if self._active and self._thread is None:
            self._draw(FRAMES[0])
            self._thread = threading.Thread(target=self._spin, name="spinner", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop and erase the line."""
        if self._thread is None or self._done.is_set():
            return
        with self._lock:
            self._done.set()
            self._stream.write("\r\x1b[K")
            self._stream.flush()
        self._thread.join()

    def __enter__(self) -> Spinner:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
