"""What every ``qcb`` command shares: the client, user-error handling, JSON output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import OperationalError

from backends.errors import BackendError
from broker.errors import BrokerError
from circuits.errors import CircuitError
from policies.errors import PolicyError, format_loc

F = TypeVar("F", bound=Callable[..., Any])

err_console = Console(stderr=True)


def client() -> Any:
    """The SDK client for this command (embedded unless configured otherwise)."""
    from broker.client import Client

    return Client()


def user_errors(func: F) -> F:
    """Turn a user's mistake into one paragraph on stderr and a non-zero exit, no traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BrokerError as exc:
            show_error(exc)
            sys.exit(exc.exit_code)
        except (CircuitError, PolicyError, BackendError) as exc:
            show_error(exc)
            sys.exit(2)
        except ValidationError as exc:  # only settings reach here: jobs become InvalidJob
            lines = "\n".join(f"  {format_loc(e['loc'])}: {e['msg']}" for e in exc.errors())
            show_error(
                BrokerError(
                    f"the settings are not valid:\n{lines}",
                    hint="check the QCB_* variables and the file QCB_CONFIG names",
                )
            )
            sys.exit(2)
        except OSError as exc:  # a path the checks let through (it changed, /sys, a full disk)
            if exc.filename is None:
                raise
            show_error(BrokerError(f"cannot use {exc.filename}: {exc.strerror or exc}"))
            sys.exit(2)
        except OperationalError as exc:
            show_error(
                BrokerError(
                    f"cannot use the job store: {str(exc.orig).strip().splitlines()[0]}",
                    hint="check QCB_DATABASE_URL, and that the database server runs",
                )
            )
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def show_error(exc: Exception) -> None:
    """Print a user's mistake as one paragraph on stderr."""
    err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)


def dump(obj: Any) -> None:
    """Print JSON."""
    click.echo(json.dumps(obj, indent=2, default=str))
