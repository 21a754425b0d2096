"""The gRPC ADS server (grpc.aio). It only moves messages: per stream, a reader task pumps requests
into a queue, and one coroutine owns the protocol state machine and writes the responses.

Serves SotW and delta ADS, plus the per-type services (StreamClusters, DeltaRoutes, ...), from a
`ResourceCache`. What a node gets is decided elsewhere: `XdsHooks.on_connect` makes sure the cache
holds the node's resources before the first response, or refuses the stream.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc
from envoy.config.core.v3 import base_pb2 as core_pb2
from envoy.service.discovery.v3 import discovery_pb2

from pilot.xds.cache import ResourceCache
from pilot.xds.delta import DeltaStream
from pilot.xds.metrics import XdsCounters
from pilot.xds.responses import DeltaResponse, SotwResponse, serialize_response
from pilot.xds.status import Outcome, OutcomeKind, SyncState, TypeSync
from pilot.xds.stream import SotwStream
from pilot.xds.types import CLUSTER, ENDPOINT, LISTENER, ROUTE, SECRET, SHORT, short_name

log = logging.getLogger(__name__)

ADS_SERVICE = "envoy.service.discovery.v3.AggregatedDiscoveryService"
# Per-type services: (service, SotW method, delta method) -> the type they serve.
PER_TYPE_SERVICES = {
    CLUSTER: ("envoy.service.cluster.v3.ClusterDiscoveryService", "StreamClusters", "DeltaClusters"),
    ENDPOINT: ("envoy.service.endpoint.v3.EndpointDiscoveryService", "StreamEndpoints", "DeltaEndpoints"),
    LISTENER: ("envoy.service.listener.v3.ListenerDiscoveryService", "StreamListeners", "DeltaListeners"),
    ROUTE: ("envoy.service.route.v3.RouteDiscoveryService", "StreamRoutes", "DeltaRoutes"),
    SECRET: ("envoy.service.secret.v3.SecretDiscoveryService", "StreamSecrets", "DeltaSecrets"),
}


class StreamRefused(Exception):
    """Raised by `on_connect` to close the stream with this gRPC status."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


async def _no_disconnect(node_id: str) -> None:
    return None


@dataclass
class XdsHooks:
    """Mesh glue called by the server. See the module docstring."""

    on_connect: Callable[[core_pb2.Node, Mapping[str, str], str], Awaitable[None]]
    on_disconnect: Callable[[str], Awaitable[None] | None] = field(default=_no_disconnect)
    # Sees every request's (node id, type URL, requested names) before it is handled, e.g. to count
    # requests for resources the node may not have.
    on_request: Callable[[str, str, Sequence[str]], None] | None = None


class _Machine(Protocol):
    def handle(self, request: Any) -> Outcome: ...
    def responses(self, node: Any, types: Any = None) -> list[Any]: ...
    def sync_status(self) -> dict[str, TypeSync]: ...


_EOF = object()
_WAKE = object()


@dataclass
class _OpenStream:
    stream_id: int
    node_id: str
    machine: _Machine
    queue: asyncio.Queue[object]
    dirty: set[str] = field(default_factory=set)  # type URLs changed in the cache since last look
    wake_pending: bool = False
    since: float | None = None  # when the oldest change or request not yet answered arrived


class XdsServer:
    """ADS server over a ResourceCache. Start it, point proxies at the returned port, stop it."""

    def __init__(
        self,
        cache: ResourceCache,
        hooks: XdsHooks,
        *,
        max_concurrent_streams: int = 100_000,
        max_pending_requests: int = 100_000,
        credentials: grpc.ServerCredentials | None = None,
        keepalive_seconds: float = 30.0,
    ) -> None:
        self._cache = cache
        self._hooks = hooks
        self._credentials = credentials
        self._options = [
            # grpc.aio drops streams beyond 1000 pending by default when many proxies connect at once.
            ("grpc.server.max_pending_requests", max_pending_requests),
            # grpc-core cancels a call the application has not picked up within this many seconds (30 by
            # default); when thousands of proxies connect at once a busy loop must mean a slower sync,
            # never a dropped stream.
            ("grpc.server_max_unrequested_time_in_server", 3600),
            ("grpc.max_concurrent_streams", max_concurrent_streams),
            ("grpc.max_send_message_length", -1),
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.keepalive_time_ms", int(keepalive_seconds * 1000)),
            ("grpc.http2.min_ping_interval_without_data_ms", 5_000),
            ("grpc.keepalive_permit_without_calls", 1),
        ]
        self._server: grpc.aio.Server | None = None
        self._streams: dict[int, _OpenStream] = {}
        self._ids = itertools.count(1)
        self._counters = XdsCounters()

    async def start(self, address: str = "127.0.0.1:0") -> int:
        """Bind and start serving; returns the bound port."""
        server = grpc.aio.server(options=self._options)
        server.add_generic_rpc_handlers(tuple(self._handlers()))
        if self._credentials is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, self._credentials)
        await server.start()
        self._server = server
        log.info("xDS server listening on %s (port %d)", address, port)
        return port

    async def stop(self, grace: float = 1.0) -> None:
        if self._server is not None:
            await self._server.stop(grace)
            self._server = None

    def sync_status(self) -> list[dict[str, Any]]:
        """/debug/syncz: one object per connected proxy (its newest stream)."""
        newest: dict[str, _OpenStream] = {}
        for stream in self._streams.values():
            newest[stream.node_id] = stream  # dicts keep insertion order: later streams win
        out = []
        for node_id in sorted(newest):
            syncs = newest[node_id].machine.sync_status()
            types = {short: syncs.get(url, TypeSync()).as_dict() for url, short in SHORT.items()}
            out.append({"proxy": node_id, "types": types})
        return out

    def histogram_lines(self) -> list[str]:
        return self._counters.push_time.lines()

    def metrics(self) -> dict[str, float]:
        out = self._counters.snapshot()
        out["streams_active"] = float(len(self._streams))
        errors = sum(
            1
            for s in self._streams.values()
            for sync in s.machine.sync_status().values()
            if sync.state is SyncState.ERROR
        )
        out["types_in_error"] = float(errors)
        for name in ("streams_total", "pushes_total", "nacks_total", "refused_total", "stale_nonce_total",
                     "streams_cancelled_total"):
            out.setdefault(name, 0.0)
        return out

    def connected_nodes(self) -> list[str]:
        return sorted({s.node_id for s in self._streams.values()})

    def acked_version(self, node_id: str, type_url: str) -> str:
        """The version of `type_url` the node's newest stream last ACKed ("" if none); see ackgate.py."""
        acked = ""
        for stream in self._streams.values():
            if stream.node_id == node_id:
                sync = stream.machine.sync_status().get(type_url)
                acked = sync.acked if sync is not None else ""
        return acked

    # --- gRPC plumbing -------------------------------------------------------------------------

    def _handlers(self) -> list[grpc.GenericRpcHandler]:
        def sotw(default_type: str | None) -> grpc.RpcMethodHandler:
            async def handler(request_iterator: Any, context: grpc.aio.ServicerContext) -> None:
                await self._serve(context, SotwStream(), default_type)

            return grpc.stream_stream_rpc_method_handler(
                handler,
                request_deserializer=discovery_pb2.DiscoveryRequest.FromString,
                response_serializer=serialize_response,
            )

        def delta(default_type: str | None) -> grpc.RpcMethodHandler:
            async def handler(request_iterator: Any, context: grpc.aio.ServicerContext) -> None:
                await self._serve(context, DeltaStream(), default_type)

            return grpc.stream_stream_rpc_method_handler(
                handler,
                request_deserializer=discovery_pb2.DeltaDiscoveryRequest.FromString,
                response_serializer=serialize_response,
            )

        handlers = [
            grpc.method_handlers_generic_handler(
                ADS_SERVICE,
                {"StreamAggregatedResources": sotw(None), "DeltaAggregatedResources": delta(None)},
            )
        ]
        for type_url, (service, sotw_method, delta_method) in PER_TYPE_SERVICES.items():
            handlers.append(
                grpc.method_handlers_generic_handler(
                    service, {sotw_method: sotw(type_url), delta_method: delta(type_url)}
                )
            )
        return handlers

    async def _serve(
        self, context: grpc.aio.ServicerContext, machine: _Machine, default_type: str | None
    ) -> None:
        queue: asyncio.Queue[object] = asyncio.Queue()
        reader = asyncio.create_task(_pump(context, queue))
        stream: _OpenStream | None = None
        unwatch: Callable[[], None] | None = None
        try:
            first = await queue.get()
            if first is _EOF:
                return
            node = await self._admit(context, first)
            stream = _OpenStream(next(self._ids), node.id, machine, queue)
            self._streams[stream.stream_id] = stream
            self._counters.inc("streams_total")
            if isinstance(machine, DeltaStream):
                self._counters.inc("delta_streams_total")
            unwatch = self._cache.watch(node.id, _waker(stream))
            await self._run(context, stream, first, default_type)
        except asyncio.CancelledError:
            # The peer went away (or cancelled) while we served it; say so, it is how a dropped proxy shows.
            self._count_cancelled(stream)
            raise
        else:
            # A peer cancel can also surface as a failed read (the pump queues _EOF and the stream ends
            # normally); which one wins is a race, so ask the call itself.
            if _was_cancelled(context):
                self._count_cancelled(stream)
        finally:
            reader.cancel()
            if unwatch is not None:
                unwatch()
            if stream is not None:
                del self._streams[stream.stream_id]
                log.info("xDS stream %d of node %s closed", stream.stream_id, stream.node_id)
                result = self._hooks.on_disconnect(stream.node_id)
                if result is not None:
                    await result

    def _count_cancelled(self, stream: _OpenStream | None) -> None:
        self._counters.inc("streams_cancelled_total")
        log.info("xDS stream of node %s cancelled", stream.node_id if stream else "(before its first request)")

    async def _admit(self, context: grpc.aio.ServicerContext, first: Any) -> core_pb2.Node:
        """Read the node from the first request, log it once, and let the hooks accept it."""
        node = core_pb2.Node()
        node.CopyFrom(first.node)
        if not node.id:
            self._counters.inc("refused_total")
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "the first request must carry node.id")
        peer = context.peer()
        # The node carries hundreds of extension entries: log who it is, not the whole message.
        version = node.user_agent_build_version.version
        log.info(
            "xDS stream from node %s (cluster %s, %s %d.%d.%d, %d extensions) peer %s",
            node.id,
            node.cluster,
            node.user_agent_name or "?",
            version.major_number,
            version.minor_number,
            version.patch,
            len(node.extensions),
            peer,
        )
        metadata = {
            key: value if isinstance(value, str) else value.decode("latin-1")
            for key, value in (context.invocation_metadata() or ())
        }
        try:
            await self._hooks.on_connect(node, metadata, peer)
        except StreamRefused as refused:
            self._counters.inc("refused_total")
            log.warning("xDS stream of node %s refused: %s", node.id, refused)
            await context.abort(refused.code, refused.details)
        return node

    async def _run(
        self, context: grpc.aio.ServicerContext, stream: _OpenStream, item: object, default_type: str | None
    ) -> None:
        while item is not _EOF:
            if item is not _WAKE:
                await self._handle_request(context, stream, item, default_type)
            # Take everything already queued before answering: the newest request of a type wins.
            while not stream.queue.empty() and (item := stream.queue.get_nowait()) is not _EOF:
                if item is not _WAKE:
                    await self._handle_request(context, stream, item, default_type)
            stream.wake_pending = False
            dirty, stream.dirty = stream.dirty, set()
            since, stream.since = stream.since, None
            loop = asyncio.get_running_loop()
            for response in stream.machine.responses(self._cache.get(stream.node_id), dirty):
                await context.write(response)
                self._count_push(stream, response)
                if since is not None:
                    self._counters.push_time.observe(loop.time() - since, short_name(response.type_url))
            if item is _EOF:
                break
            item = await stream.queue.get()

    async def _handle_request(
        self, context: grpc.aio.ServicerContext, stream: _OpenStream, request: Any, default_type: str | None
    ) -> None:
        if not request.type_url:
            if default_type is None:
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "type_url is required on ADS")
            request.type_url = default_type
        if self._hooks.on_request is not None:
            names = request.resource_names_subscribe if hasattr(request, "resource_names_subscribe") \
                else request.resource_names
            self._hooks.on_request(stream.node_id, request.type_url, list(names))
        outcome = stream.machine.handle(request)
        stream.dirty.add(request.type_url)
        if stream.since is None:
            stream.since = asyncio.get_running_loop().time()
        short = short_name(request.type_url)
        self._counters.inc("requests_total", short)
        if outcome.kind is OutcomeKind.NACK:
            self._counters.inc("nacks_total", short)
            log.warning(
                "node %s NACKed %s version %s: %s", stream.node_id, short, outcome.version, outcome.message
            )
        elif outcome.kind is OutcomeKind.ACK:
            self._counters.inc("acks_total", short)
        elif outcome.kind is OutcomeKind.STALE:
            self._counters.inc("stale_nonce_total", short)
            log.debug("node %s: stale %s nonce %s", stream.node_id, short, request.response_nonce)

    def _count_push(self, stream: _OpenStream, response: SotwResponse | DeltaResponse) -> None:
        short = short_name(response.type_url)
        self._counters.inc("pushes_total", short)
        self._counters.inc("resources_sent_total", short, len(response.resources))
        if log.isEnabledFor(logging.DEBUG):  # the name list is long (every EDS cluster): build it only then
            log.debug("node %s: sent %s nonce %s %s", stream.node_id, short, response.nonce, response.names)


def _waker(stream: _OpenStream) -> Callable[[frozenset[str]], None]:
    loop = asyncio.get_running_loop()

    def wake(changed: frozenset[str]) -> None:
        stream.dirty |= changed
        if stream.since is None:
            stream.since = loop.time()
        if not stream.wake_pending:
            stream.wake_pending = True
            loop.call_soon_threadsafe(stream.queue.put_nowait, _WAKE)

    return wake


def _was_cancelled(context: grpc.aio.ServicerContext) -> bool:
    try:
        return bool(context.cancelled())
    except Exception:  # not every context implements it (test doubles)
        return False


async def _pump(context: grpc.aio.ServicerContext, queue: asyncio.Queue[object]) -> None:
    try:
        while True:
            request = await context.read()
            if request is grpc.aio.EOF:
                break
            queue.put_nowait(request)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the peer went away mid-read; the writer side ends the stream
        log.debug("xDS stream read ended: %r", exc)
    finally:
        queue.put_nowait(_EOF)
