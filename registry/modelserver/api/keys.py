"""Typed application keys: everything the handlers share lives on the ``web.Application``."""

from __future__ import annotations

from aiohttp import web

from registry.config import Settings
from registry.modelserver.scheduler import Scheduler
from registry.remote.options import TransferOptions
from registry.store.library import Library

__all__ = ["LIBRARY", "SCHEDULER", "SETTINGS", "TRANSFER_OPTIONS"]

LIBRARY: web.AppKey[Library] = web.AppKey("library", Library)
SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
SCHEDULER: web.AppKey[Scheduler] = web.AppKey("scheduler", Scheduler)
#: Transfer options (credentials, CA bundle, rate limit) for pulls and pushes, when the
#: composition root sets them; otherwise defaults apply.
TRANSFER_OPTIONS: web.AppKey[TransferOptions] = web.AppKey("transfer_options", TransferOptions)
