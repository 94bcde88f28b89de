"""etcd's v2 keys API over plain HTTP (``/v2/keys``), the API the seed's flanneld and ``ETCDCTL_API=2`` use.

Only the standard library: one request per call, endpoints tried in turn, long-poll watches in a thread.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from netcon.core.errors import NetconError, NotFound, PermissionDenied
from netcon.core.etcd.base import EndpointDown, Failover, KeyValue, Listing, Watch, WatchEvent, WatchReset
from netcon.core.etcd.options import EtcdOptions

KEY_NOT_FOUND, NODE_EXISTS, UNAUTHORIZED, INDEX_CLEARED = 100, 105, 110, 401
DELETE_ACTIONS = {"delete", "expire", "compareAndDelete"}
WATCH_POLL_S = 25.0


def parse_expiration(text: str | None) -> float | None:
    """etcd's RFC 3339 expiration (nanoseconds, ``Z``) as epoch seconds."""
    if not text:
        return None
    head, _, rest = text.partition(".")
    frac, zone = (rest[:-1], "+00:00") if rest.endswith("Z") else (rest, "")
    if not rest:
        head, zone = (head[:-1], "+00:00") if head.endswith("Z") else (head, "")
    for sign in "+-":
        if sign in frac:
            frac, tz = frac.split(sign, 1)
            zone = sign + tz
    stamp = f"{head}.{(frac or '0')[:6].ljust(6, '0')}{zone}"
    return datetime.fromisoformat(stamp).timestamp()


class V2Client:
    """Synchronous client of the v2 keys API."""

    api = 2

    def __init__(self, options: EtcdOptions) -> None:
        self.options = options
        self._failover = Failover(options)
        self._ssl = _ssl_context(options)
        self._auth = None
        if options.username:
            token = base64.b64encode(f"{options.username}:{options.password or ''}".encode()).decode()
            self._auth = f"Basic {token}"

    @property
    def endpoint(self) -> str:
        return self._failover.endpoint

    def _request(
        self,
        method: str,
        key: str,
        what: str,
        query: dict[str, str] | None = None,
        form: dict[str, str] | None = None,
        timeout: float | None = None,
        long_poll: bool = False,
    ) -> tuple[int, dict[str, Any], int]:
        """(HTTP status, JSON body, X-Etcd-Index) from the first endpoint that answers; a long poll that
        times out waiting for an answer returns (0, {}, 0)."""
        path = "/v2/keys" + urllib.parse.quote(key if key.startswith("/") else "/" + key)
        qs = ("?" + urllib.parse.urlencode(query)) if query else ""
        data = urllib.parse.urlencode(form).encode() if form is not None else None

        def attempt(endpoint: str) -> tuple[int, dict[str, Any], int]:
            req = urllib.request.Request(endpoint + path + qs, data=data, method=method)
            if data is not None:
                req.add_header("Content-Type", "application/x-www-form-urlencoded")
            if self._auth:
                req.add_header("Authorization", self._auth)
            try:
                with urllib.request.urlopen(req, timeout=timeout or self.options.timeout, context=self._ssl) as resp:
                    return resp.status, _json(resp.read(), endpoint), int(resp.headers.get("X-Etcd-Index") or 0)
            except urllib.error.HTTPError as error:
                body = error.read()
                return error.code, _json(body, endpoint, error.code), int(error.headers.get("X-Etcd-Index") or 0)
            except urllib.error.URLError as error:
                raise EndpointDown(str(error.reason) or type(error.reason).__name__) from error
            except TimeoutError as error:
                if long_poll:
                    return 0, {}, 0
                raise EndpointDown("timed out") from error
            except http.client.HTTPException as error:
                raise EndpointDown(f"not with HTTP ({type(error).__name__})") from error
            except OSError as error:
                reason = getattr(error, "reason", error)
                raise EndpointDown(str(reason) or type(reason).__name__) from error

        status, body, index = self._failover.call(f"{method} {key}", attempt)
        code = body.get("errorCode")
        if code == UNAUTHORIZED or (status == 401 and code is None):
            raise PermissionDenied(f"etcd refused {what}: {body.get('message', 'unauthorized')}.", target=key)
        return status, body, index

    def get(self, key: str) -> KeyValue | None:
        _status, body, _ = self._request("GET", key, f"to read {key}")
        if body.get("errorCode") == KEY_NOT_FOUND:
            return None
        _raise_on_error(body, f"read {key}")
        return _kv(body["node"])

    def put(self, key: str, value: str, ttl: int | None = None) -> KeyValue:
        """Set ``key``; without ``ttl`` the key never expires (a v2 set drops an earlier TTL)."""
        form = {"value": value}
        if ttl:
            form["ttl"] = str(int(ttl))
        _, body, _ = self._request("PUT", key, f"to write {key}", form=form)
        _raise_on_error(body, f"write {key}")
        return _kv(body["node"])

    def create(self, key: str, value: str, ttl: int | None = None) -> bool:
        """Create ``key`` unless it exists (``prevExist=false``); False when it already did."""
        form = {"value": value}
        if ttl:
            form["ttl"] = str(int(ttl))
        _, body, _ = self._request("PUT", key, f"to create {key}", query={"prevExist": "false"}, form=form)
        if body.get("errorCode") == NODE_EXISTS:
            return False
        _raise_on_error(body, f"create {key}")
        return True

    def delete(self, key: str) -> bool:
        _, body, _ = self._request("DELETE", key, f"to delete {key}")
        if body.get("errorCode") == KEY_NOT_FOUND:
            return False
        _raise_on_error(body, f"delete {key}")
        return True

    def list_prefix(self, prefix: str, ttls: bool = True) -> Listing:
        """Every non-directory key under the directory ``prefix`` (v2 returns each key's expiration with it,
        so ``ttls`` costs nothing here)."""
        _, body, index = self._request(
            "GET", prefix, f"to list {prefix}", query={"recursive": "true", "sorted": "true"}
        )
        if body.get("errorCode") == KEY_NOT_FOUND:
            return Listing((), int(body.get("index") or index))
        _raise_on_error(body, f"list {prefix}")
        items: list[KeyValue] = []
        stack = [body["node"]]
        while stack:
            node = stack.pop()
            if node.get("dir"):
                stack.extend(reversed(node.get("nodes") or ()))
            else:
                items.append(_kv(node))
        return Listing(tuple(items), index)

    def watch_prefix(self, prefix: str, since: int) -> Watch:
        """Events under ``prefix`` after index ``since`` (a listing's revision)."""
        stop = threading.Event()
        watch = Watch(cancel=stop.set)
        threading.Thread(
            target=self._poll, args=(prefix, since + 1, watch, stop), name=f"etcd-v2-watch {prefix}", daemon=True
        ).start()
        return watch

    def _poll(self, prefix: str, wait_index: int, watch: Watch, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                _, body, _ = self._request(
                    "GET",
                    prefix,
                    f"to watch {prefix}",
                    timeout=WATCH_POLL_S,
                    long_poll=True,
                    query={"wait": "true", "recursive": "true", "waitIndex": str(wait_index)},
                )
            except NetconError as error:
                watch.push(error)
                return
            if body.get("errorCode") == INDEX_CLEARED:
                watch.push(WatchReset(f"etcd history no longer holds index {wait_index} of {prefix}."))
                return
            if not body:
                continue  # a quiet long poll (ours timed out, or etcd ended it empty)
            try:
                _raise_on_error(body, f"watch {prefix}")
            except NetconError as error:
                watch.push(error)
                return
            node = body["node"]
            wait_index = int(node["modifiedIndex"]) + 1
            if node.get("dir"):
                continue
            kind = "delete" if body.get("action") in DELETE_ACTIONS else "put"
            kv = _kv(node)
            watch.push(
                [
                    WatchEvent(
                        kind,
                        kv.key,
                        kv.value if kind == "put" else "",
                        kv.expires_at if kind == "put" else None,
                        kv.revision,
                    )
                ]
            )

    def expiries(self, lease_ids: Iterable[int]) -> dict[int, float | None]:
        """v2 has no leases: every expiry came with its key."""
        return {}

    def close(self) -> None:
        """Nothing to release: every request opens its own connection."""


def _kv(node: dict[str, Any]) -> KeyValue:
    expires = parse_expiration(node.get("expiration"))
    if expires is None and node.get("ttl"):
        expires = time.time() + int(node["ttl"])
    return KeyValue(node["key"], node.get("value", ""), expires, int(node.get("modifiedIndex") or 0))


def _json(raw: bytes, endpoint: str, status: int = 200) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        if status == 404:
            raise NetconError(
                f"{endpoint} answered 404 to etcd's v2 keys API: it is not etcd, or an etcd started without "
                f"--enable-v2.",
                target=endpoint,
            ) from None
        raise NetconError(
            f"etcd at {endpoint} answered with something that is not JSON: {raw[:80]!r}.", target=endpoint
        ) from None
    return value if isinstance(value, dict) else {}


def _raise_on_error(body: dict[str, Any], what: str) -> None:
    code = body.get("errorCode")
    if code is None:
        return
    message = f"etcd refused to {what}: {body.get('message', 'error')} ({body.get('cause', '')})."
    if code == KEY_NOT_FOUND:
        raise NotFound(message, target=body.get("cause"))
    raise NetconError(message, target=body.get("cause"))


def _ssl_context(options: EtcdOptions) -> ssl.SSLContext | None:
    if not (options.cafile or options.certfile or any(e.startswith("https:") for e in options.endpoints)):
        return None
    context = ssl.create_default_context(cafile=options.cafile)
    if options.certfile:
        context.load_cert_chain(options.certfile, options.keyfile)
    return context
