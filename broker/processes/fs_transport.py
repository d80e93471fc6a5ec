"""Celery's ``filesystem://`` transport, with messages published atomically and a doorbell.

Kombu's own transport creates a message file and then writes it; a consumer in another
process can take the file in between and read it empty (``JSONDecodeError``: the worker
stops). Here a message is written under a name no consumer matches and then renamed into
place, which is atomic on one file system.

Kombu's consumer finds new messages by listing the folder every ``polling_interval``.
Here a publisher also rings a doorbell: a named pipe (``.doorbell``) in the folder, one
byte per message, and a consumer with nothing to read waits on the pipe for at most the
polling interval instead of sleeping it. A message is taken as soon as it is there; a
ring nobody hears (no consumer yet, another consumer took the byte, the pipe full) costs
at most one polling interval, as before. The pipe is a file, so nothing is served and
nothing changes when a worker is killed: the next one opens the same pipe.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from queue import Empty
from typing import Any, cast

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils import json as kombu_json

from broker.doorbell import Doorbell, ring

_dumps = cast(Callable[[Any], str], kombu_json.dumps)  # kombu's encoder: dates, UUIDs


class Channel(filesystem.Channel):
    """A filesystem channel whose ``_put`` is atomic and rings the doorbell."""

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
        ring(folder)


class Transport(filesystem.Transport):
    """The filesystem transport with :class:`Channel`, whose consumers wait on the
    doorbell between looks at the folder."""

    Channel = Channel
    _doorbell: Doorbell | None = None

    def drain_events(self, connection: Any, timeout: Any = None) -> None:  # type: ignore[override]
        """Deliver one message, waiting at most ``timeout`` (``TimeoutError`` then)."""
        start = time.monotonic()
        interval = self.polling_interval or 1.0
        while True:
            try:
                assert self.cycle is not None, "a transport's cycle exists once connected"
                self.cycle.get(self._deliver, timeout=timeout)  # type: ignore[no-untyped-call]
                return
            except Empty:
                left = None if timeout is None else timeout - (time.monotonic() - start)
                if left is not None and left <= 0:
                    raise TimeoutError() from None
                self._bell().wait(interval if left is None else min(interval, left))

    def _bell(self) -> Doorbell:
        if self._doorbell is None:  # the channels share the folder (the transport options)
            self._doorbell = Doorbell(self.channels[0].data_folder_in)
        return self._doorbell

    def close_connection(self, connection: Any) -> None:
        """Close the doorbell with the connection."""
        if self._doorbell is not None:
            self._doorbell.close()
            self._doorbell = None
        super().close_connection(connection)  # type: ignore[no-untyped-call]
