"""The one door to the Docker engine: client creation and translation of docker-py's errors.

Every Docker call in the core goes through ``docker_call`` so that an unreachable daemon or a refusal becomes
a ``NetconError`` naming what failed, never a traceback.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import docker
import docker.errors
import requests.exceptions

from netcon.core.context import HostContext
from netcon.core.errors import DockerRefused, DockerUnavailable, NetconError, NotFound, PermissionDenied

T = TypeVar("T")
Json = dict[str, Any]  # a Docker API object as docker-py decodes it

_clients: dict[str, docker.APIClient] = {}
_lock = threading.Lock()


def api(ctx: HostContext, timeout: int = 30) -> docker.APIClient:
    """A low-level client for ``ctx``'s engine, shared per endpoint (it keeps a connection pool)."""
    key = f"{ctx.docker_url}|{timeout}"
    with _lock:
        client = _clients.get(key)
        if client is None:
            try:
                client = docker.APIClient(base_url=ctx.docker_url, version="auto", timeout=timeout)
            except docker.errors.DockerException as error:
                raise unreachable(ctx, error) from error
            _clients[key] = client
        return client


def forget(ctx: HostContext) -> None:
    """Drop cached clients of ``ctx``'s endpoint (after the daemon went away, to reconnect cleanly)."""
    with _lock:
        for key in [k for k in _clients if k.startswith(f"{ctx.docker_url}|")]:
            _clients.pop(key).close()


def _reason(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if "No such file or directory" in text or "FileNotFoundError" in text:
        return "no socket there"
    if "Connection refused" in text:
        return "connection refused"
    return text.rstrip(".")


def _permission_denied(error: BaseException) -> bool:
    """docker-py wraps the socket's EACCES in requests' ConnectionError (args hold the PermissionError)."""
    seen: list[object] = [error]
    while seen:
        item = seen.pop()
        if isinstance(item, PermissionError):
            return True
        if isinstance(item, BaseException):
            seen.extend(item.args)
            seen.extend(x for x in (item.__cause__, item.__context__) if x is not None)
        elif isinstance(item, tuple | list):
            seen.extend(item)
    return False


def unreachable(ctx: HostContext, error: BaseException) -> NetconError:
    """Why the engine cannot be reached, in one sentence: a socket this user may not open says what to do."""
    if _permission_denied(error):
        socket_path = ctx.docker_url.removeprefix("unix://")
        return PermissionDenied(
            f"Permission denied on {socket_path}: run netcon as root or as a member of the docker group.",
            target=ctx.docker_url,
        )
    return DockerUnavailable(
        f"Docker daemon not reachable at {ctx.docker_url}: {_reason(error)}.", target=ctx.docker_url
    )


def docker_call(ctx: HostContext, what: str, fn: Callable[[docker.APIClient], T], timeout: int = 30) -> T:
    """Run ``fn(client)``, translating docker-py errors; ``what`` names the request for the message."""
    try:
        return fn(api(ctx, timeout))
    except docker.errors.NotFound as error:
        raise NotFound(f"{what}: {error.explanation or 'not found'}.", target=what) from error
    except docker.errors.APIError as error:
        explanation = str(error.explanation or error)
        raise DockerRefused(f"Docker refused to {what}: {explanation.rstrip('.')}.", target=what) from error
    except (requests.exceptions.ConnectionError, docker.errors.DockerException, ConnectionError) as error:
        forget(ctx)
        raise unreachable(ctx, error) from error
    except requests.exceptions.ReadTimeout as error:
        raise DockerUnavailable(f"Docker daemon at {ctx.docker_url} did not answer in time ({what}).") from error
