"""etcd's v3 API through ``aetcd`` (gRPC, asyncio), behind a synchronous face.

All clients share one event-loop thread; each call is scheduled there and waited for, so the rest of netcon
(threads, CLI, console workers) never sees asyncio. Leases: a TTL'd key gets its own lease, as flanneld does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit

os.environ.setdefault("GRPC_VERBOSITY", "NONE")  # gRPC's C core logs to the terminal; netcon reports each failure
import aetcd
import aetcd.exceptions as aex
import grpc

from netcon.core.aioloop import LoopThread
from netcon.core.errors import EtcdUnavailable, NetconError, PermissionDenied
from netcon.core.etcd.base import EndpointDown, Failover, KeyValue, Listing, Watch, WatchEvent, WatchReset
from netcon.core.etcd.options import EtcdOptions

T = TypeVar("T")
log = logging.getLogger("netcon.etcd")
CHANNEL_OPTIONS = {"grpc.max_receive_message_length": 256 * 1024 * 1024}
TTL_CHUNK = 1000  # LeaseTimeToLive requests in flight at once


class _LoopThread(LoopThread):
    """The shared loop (``core.aioloop``), with a timeout that reads as an endpoint that does not answer."""

    @classmethod
    def run(cls, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        future = cls.submit(coro)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise EndpointDown("timed out") from None


def stop_loop(timeout: float = 1.0) -> None:
    """End the loop thread every v3 client shares (``core.aioloop.stop_loop``)."""
    LoopThread.stop(timeout)


class _Client(aetcd.Client):  # type: ignore[misc]  # aetcd ships no type information
    """aetcd's client with TLS: its own ``connect`` only knows insecure channels."""

    def __init__(self, *args: Any, credentials: grpc.ChannelCredentials | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._credentials = credentials

    async def connect(self) -> None:
        if self._credentials is None:
            await super().connect()
            return
        if self._connected.is_set():
            return
        target = f"{self._host}:{self._port}"
        self.channel = aetcd.rpc.secure_channel(target, self._credentials, options=list(self._options.items()))
        if self._username is not None:
            self.auth_stub = aetcd.rpc.AuthStub(self.channel)
            try:
                resp = await self.auth_stub.Authenticate(
                    aetcd.rpc.AuthenticateRequest(name=self._username, password=self._password), timeout=self._timeout
                )
            except aetcd.rpc.AioRpcError as error:
                aex._handle_exception(error)
            self.metadata = (("token", resp.token),)
        self.kvstub = aetcd.rpc.KVStub(self.channel)
        self.clusterstub = aetcd.rpc.ClusterStub(self.channel)
        self.leasestub = aetcd.rpc.LeaseStub(self.channel)
        self.maintenancestub = aetcd.rpc.MaintenanceStub(self.channel)
        self._watcher = aetcd.watcher.Watcher(
            aetcd.rpc.WatchStub(self.channel), timeout=self._timeout, metadata=self.metadata
        )
        self._connected.set()


class V3Client:
    """Synchronous client of the v3 API with endpoint failover."""

    api = 3

    def __init__(self, options: EtcdOptions) -> None:
        self.options = options
        self._failover = Failover(options)
        self._clients: dict[str, _Client] = {}
        self._expiry: dict[int, float | None] = {}  # lease id -> expiry; flannel never refreshes a lease
        self._credentials = _credentials(options)

    @property
    def endpoint(self) -> str:
        return self._failover.endpoint

    def _client(self, endpoint: str) -> _Client:
        client = self._clients.get(endpoint)
        if client is None:
            url = urlsplit(endpoint)
            client = _Client(
                url.hostname or "127.0.0.1",
                url.port or 2379,
                username=self.options.username,
                password=self.options.password,
                timeout=self.options.timeout,
                options=CHANNEL_OPTIONS,
                credentials=self._credentials,
            )
            self._clients[endpoint] = client
        return client

    def _call(self, what: str, fn: Callable[[_Client], Awaitable[T]]) -> T:
        def attempt(endpoint: str) -> T:
            client = self._client(endpoint)
            try:
                return _LoopThread.run(_translated(fn(client), endpoint, what), self.options.timeout + 2)
            except EndpointDown:
                self._drop(endpoint)  # a fresh channel next time, not one stuck in gRPC's reconnect backoff
                raise

        return self._failover.call(what, attempt)

    def _drop(self, endpoint: str) -> None:
        client = self._clients.pop(endpoint, None)
        if client is not None:
            asyncio.run_coroutine_threadsafe(_quiet_close(client), _LoopThread.loop())

    async def _expires(self, client: _Client, lease_id: int) -> float | None:
        if not lease_id:
            return None
        if lease_id not in self._expiry:
            info = await client.get_lease_info(lease_id, keys=False)
            self._expiry[lease_id] = time.time() + max(info.TTL, 0)  # -1: expired just now
        return self._expiry[lease_id]

    async def _kv(self, client: _Client, kv: Any) -> KeyValue:
        return KeyValue(
            _key(kv.key), _value(kv.value), await self._expires(client, kv.lease), kv.mod_revision, kv.lease
        )

    def _listed(self, kv: Any) -> KeyValue:
        """A listed key with the expiry already known (cached), else None with its lease id set."""
        return KeyValue(_key(kv.key), _value(kv.value), self._expiry.get(kv.lease), kv.mod_revision, kv.lease)

    async def _grant(self, client: _Client, ttl: int | None) -> int:
        if not ttl:
            return 0
        lease = await client.lease(int(ttl))
        self._expiry[lease.id] = time.time() + lease.ttl
        return int(lease.id)

    def get(self, key: str) -> KeyValue | None:
        async def op(client: _Client) -> KeyValue | None:
            got = await client.get(key.encode())
            return None if got is None else await self._kv(client, got)

        return self._call(f"read {key}", op)

    def put(self, key: str, value: str, ttl: int | None = None) -> KeyValue:
        """Put ``key`` on a fresh lease of ``ttl`` seconds (none: no lease); the replaced lease is revoked
        when no other key is attached to it."""

        async def op(client: _Client) -> KeyValue:
            lease_id = await self._grant(client, ttl)
            done = await client.put(key.encode(), value.encode(), lease=lease_id or None, prev_kv=True)
            old = done.prev_kv.lease if done.prev_kv else 0
            if old and old != lease_id:
                info = await client.get_lease_info(old, keys=True)
                if info.TTL > 0 and not info.keys:
                    await client.revoke_lease(old)
                self._expiry.pop(old, None)
            return KeyValue(key, value, self._expiry.get(lease_id), done.header.revision, lease_id)

        return self._call(f"write {key}", op)

    def create(self, key: str, value: str, ttl: int | None = None) -> bool:
        """Grant a lease, then ``If(Version(key) == 0) Then Put(key, value, lease)``; False if it existed."""

        async def op(client: _Client) -> bool:
            lease_id = await self._grant(client, ttl)
            tx = client.transactions
            ok, _ = await client.transaction(
                compare=[tx.version(key.encode()) == 0],
                success=[tx.put(key.encode(), value.encode(), lease=lease_id or None)],
                failure=[],
            )
            if not ok and lease_id:
                await client.revoke_lease(lease_id)
                self._expiry.pop(lease_id, None)
            return bool(ok)

        return self._call(f"create {key}", op)

    def delete(self, key: str) -> bool:
        async def op(client: _Client) -> bool:
            done = await client.delete(key.encode())
            return bool(done and done.deleted)

        return self._call(f"delete {key}", op)

    def list_prefix(self, prefix: str, ttls: bool = True) -> Listing:
        """Every key starting with ``prefix`` + "/" and the revision read at. Without ``ttls`` only the expiries
        already known are filled in; ``expiries`` reads the others (one LeaseTimeToLive each: etcd has no batch
        call), so a listing of 10,000 leases is one Range request."""
        base = prefix.rstrip("/") + "/"

        async def op(client: _Client) -> Listing:
            got = await client.get_prefix(base.encode(), sort_order="ascend")
            return Listing(tuple(self._listed(kv) for kv in got.kvs), got.header.revision)

        listing = self._call(f"list {base}", op)
        if ttls:
            known = self.expiries(kv.lease_id for kv in listing.items if kv.lease_id and kv.expires_at is None)
            listing = Listing(tuple(_with_expiry(kv, known) for kv in listing.items), listing.revision)
        return listing

    def expiries(self, lease_ids: Iterable[int]) -> dict[int, float | None]:
        """The expiry (epoch s) of each lease, read concurrently in chunks (each chunk one request's timeout);
        cached: flannel never refreshes a lease, it grants a new one."""
        wanted = [i for i in dict.fromkeys(lease_ids) if i]
        for start in range(0, len(wanted), TTL_CHUNK):
            chunk = [i for i in wanted[start : start + TTL_CHUNK] if i not in self._expiry]

            async def op(client: _Client, chunk: list[int] = chunk) -> None:
                await asyncio.gather(*(self._expires(client, lease) for lease in chunk))

            if chunk:
                self._call(f"read the TTLs of {len(chunk)} leases", op)
        return {i: self._expiry.get(i) for i in wanted}

    def watch_prefix(self, prefix: str, since: int) -> Watch:
        """Events under ``prefix`` + "/" from revision ``since`` + 1 (a listing's revision), through aetcd's
        public watch stream, consumed by a task on the client loop that feeds the ``Watch`` queue."""
        base = (prefix.rstrip("/") + "/").encode()
        running: dict[str, Any] = {}

        def cancel() -> None:
            task, stream = running.get("task"), running.get("stream")
            if task is not None:
                _LoopThread.loop().call_soon_threadsafe(task.cancel)
            if stream is not None:
                asyncio.run_coroutine_threadsafe(_quiet(stream.cancel()), _LoopThread.loop())

        watch = Watch(cancel=cancel)

        async def consume(client: _Client, stream: Any, endpoint: str) -> None:
            try:
                async for item in stream:
                    watch.push([await self._event(client, item)])
            except aex.RevisionCompactedError:
                watch.push(WatchReset(f"etcd compacted the history of {prefix} past revision {since}."))
            except (aex.ClientError, grpc.RpcError, OSError, TimeoutError) as error:
                watch.push(_error(error, endpoint, f"watch {prefix}"))

        def attempt(endpoint: str) -> None:
            client = self._client(endpoint)

            async def op() -> None:
                try:
                    stream = await client.watch_prefix(base, start_revision=since + 1)
                except aex.RevisionCompactedError:
                    watch.push(WatchReset(f"etcd compacted the history of {prefix} past revision {since}."))
                    return
                running["stream"] = stream
                running["task"] = asyncio.ensure_future(consume(client, stream, endpoint))

            return _LoopThread.run(_translated(op(), endpoint, f"watch {prefix}"), self.options.timeout + 2)

        self._failover.call(f"watch {prefix}", attempt)
        return watch

    async def _event(self, client: _Client, item: Any) -> WatchEvent:
        kv = item.kv
        if item.kind == "DELETE":
            return WatchEvent("delete", _key(kv.key), revision=kv.mod_revision)
        try:
            expires = await self._expires(client, kv.lease)
        except aex.ClientError as error:  # the lease was revoked meanwhile: its key goes with it (a delete follows)
            log.debug("lease %x of %s vanished before its TTL was read: %s", kv.lease, _key(kv.key), error)
            expires = None
        return WatchEvent("put", _key(kv.key), _value(kv.value), expires, kv.mod_revision)

    def close(self) -> None:
        for endpoint in list(self._clients):
            client = self._clients.pop(endpoint)
            with contextlib.suppress(EndpointDown):
                _LoopThread.run(_quiet_close(client), 5)


def _key(raw: bytes) -> str:
    """A key as text; bytes that are not UTF-8 are shown as escapes (a key is only ever displayed)."""
    return raw.decode("utf-8", "backslashreplace")


def _value(raw: bytes) -> str:
    """A value as text; bytes that are not UTF-8 survive as surrogate escapes, which the reader detects and
    reports (``str.encode`` refuses them) instead of this client failing the whole listing."""
    return raw.decode("utf-8", "surrogateescape")


def _with_expiry(kv: KeyValue, known: dict[int, float | None]) -> KeyValue:
    if not kv.lease_id or kv.expires_at is not None:
        return kv
    return KeyValue(kv.key, kv.value, known.get(kv.lease_id), kv.revision, kv.lease_id)


async def _translated(coro: Awaitable[T], endpoint: str, what: str) -> T:
    try:
        return await coro
    except (aex.ConnectionFailedError, aex.ConnectionTimeoutError, aex.WatchTimeoutError, OSError) as error:
        raise EndpointDown(_reason(error)) from error
    except TimeoutError as error:
        raise EndpointDown("timed out") from error
    except (aex.ClientError, grpc.RpcError) as error:
        raise _error(error, endpoint, what) from error


def _error(error: BaseException, endpoint: str, what: str) -> NetconError:
    if isinstance(error, aex.UnauthenticatedError) or "authentication" in str(error).lower():
        return PermissionDenied(f"etcd at {endpoint} refused to {what}: {_reason(error)}.", target=endpoint)
    if isinstance(error, (aex.ConnectionFailedError, aex.ConnectionTimeoutError, grpc.RpcError)):
        return EtcdUnavailable(f"etcd at {endpoint} stopped answering ({what}): {_reason(error)}.", target=endpoint)
    return NetconError(f"etcd at {endpoint} refused to {what}: {_reason(error)}.", target=endpoint)


def _reason(error: BaseException) -> str:
    if isinstance(error, grpc.aio.AioRpcError):
        text = str(error.details() or error.code().name)
    else:
        text = str(error) or type(error).__name__
    return text.strip().splitlines()[0].rstrip(".")


async def _quiet(coro: Awaitable[object]) -> None:
    """Await a clean-up step (cancel a watch, close a channel) whose failure changes nothing: the stream or
    channel it would end is already gone. Logged, not raised."""
    try:
        await coro
    except (TimeoutError, aex.ClientError, grpc.RpcError, OSError) as error:
        log.debug("etcd v3 clean-up step failed: %s", error)


async def _quiet_close(client: _Client) -> None:
    await _quiet(client.close())


def _credentials(options: EtcdOptions) -> grpc.ChannelCredentials | None:
    if not (options.cafile or options.certfile or any(e.startswith("https:") for e in options.endpoints)):
        return None

    def read(path: str | None) -> bytes | None:
        if not path:
            return None
        with open(path, "rb") as f:
            return f.read()

    return grpc.ssl_channel_credentials(read(options.cafile), read(options.keyfile), read(options.certfile))
