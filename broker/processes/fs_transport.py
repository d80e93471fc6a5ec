"""Celery's ``filesystem://`` transport, with messages published atomically.

Kombu's own transport creates a message file and then writes it; a consumer in another
process can take the file in between and read it empty (``JSONDecodeError``: the worker
stops). Here a message is written under a name no consumer matches and then renamed into
place, which is atomic on one file system. Everything else is kombu's.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from typing import Any, cast

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils import json as kombu_json

_dumps = cast(Callable[[Any], str], kombu_json.dumps)  # kombu's encoder: dates, UUIDs


class Channel(filesystem.Channel):
    """A filesystem channel whose ``_put`` is atomic."""

    def _put(self, queue: Any, message: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        folder = self.data_folder_out
        tmp = os.path.join(folder, f".partial-{uuid.uuid4()}")
        try:
            with open(tmp, "wb") as handle:
                handle.write(_dumps(message).encode())
            os.replace(tmp, os.path.join(folder, name))
        except OSError as exc:
            raise ChannelError(f"cannot add message {name!r} to {folder}") from exc


class Transport(filesystem.Transport):
    """The filesystem transport with :class:`Channel`."""

    Channel = Channel
