"""qcbroker's broker: jobs, store, scheduler, Celery app and tasks, SDK and CLI.

>>> from broker import Client
>>> client = Client()                               # doctest: +SKIP
>>> job_id = client.submit("examples/vqe_h2.yaml")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from broker.client import Client

__all__ = ["Client"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `import broker.<module>` does not import the SDKs behind the client.
    if name == "Client":
        from broker.client import Client

        return Client
    raise AttributeError(name)
