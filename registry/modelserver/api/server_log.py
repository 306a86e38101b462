"""The logger of aiohttp's connection handler for the model server.

A client that sends malformed HTTP (a request line or header over 8190 bytes, bad syntax, a
non-HTTP protocol) gets a 400 from aiohttp; that is the client's mistake, so it is logged as one
line without a traceback. Every other error keeps aiohttp's error log with its traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

__all__ = ["ConnectionLogger", "connection_logger"]


class ConnectionLogger(logging.LoggerAdapter[logging.Logger]):
    """``aiohttp.server``'s logger, quiet about clients' protocol errors."""

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        """As :meth:`logging.Logger.exception`, but one info line for a client's bad HTTP."""
        if isinstance(exc_info, HttpProcessingError):
            self.logger.info("%s: %s", str(msg) % args, exc_info.message.strip().splitlines()[0][:200])
            return
        self.logger.error(msg, *args, exc_info=exc_info, **kwargs)


def connection_logger() -> ConnectionLogger:
    """The adapter over ``aiohttp.server`` (aiohttp's own logger name, so logging setups still apply)."""
    return ConnectionLogger(logging.getLogger("aiohttp.server"), {})
