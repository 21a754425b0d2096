"""Async ADS test clients (grpc.aio) for integration tests.

`AdsClient` speaks SotW ADS. Drive it by hand (`request`, `recv`, `ack`, `nack`) to test the protocol
step by step, or call `start_auto()` to have it subscribe like Envoy does (CDS wildcard, EDS for the
received EDS clusters, then LDS wildcard, RDS for the route names in listeners' HTTP connection
managers, SDS for secrets referenced by TLS contexts), ACK everything (or NACK what `reject` says) and
expose what it received in `resources`. `DeltaAdsClient` is the by-hand delta variant.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import grpc
from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import base_pb2 as core_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from envoy.extensions.transport_sockets.tls.v3 import secret_pb2
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from google.protobuf import json_format, struct_pb2
from google.protobuf.message import Message
from google.rpc import status_pb2

from pilot.testing.xds_refs import eds_name, route_names, secret_names
from pilot.xds.types import CLUSTER, ENDPOINT, LISTENER, ROUTE, SECRET

MESSAGE_TYPES: dict[str, type[Message]] = {
    CLUSTER: cluster_pb2.Cluster,
    ENDPOINT: endpoint_pb2.ClusterLoadAssignment,
    LISTENER: listener_pb2.Listener,
    ROUTE: route_pb2.RouteConfiguration,
    SECRET: secret_pb2.Secret,
}
FULL_STATE = {CLUSTER, LISTENER}


class AdsStreamClosed(Exception):
    """The server ended the stream; `code` is its gRPC status."""

    def __init__(self, code: grpc.StatusCode | None, details: str) -> None:
        super().__init__(f"{code}: {details}")
        self.code = code
        self.details = details


def decode(any_msg: Any) -> Message:
    message = MESSAGE_TYPES[any_msg.type_url]()
    any_msg.Unpack(message)
    return message


def resource_name(message: Message) -> str:
    if isinstance(message, endpoint_pb2.ClusterLoadAssignment):
        return message.cluster_name
    return str(getattr(message, "name"))  # noqa: B009 - every other served type has `name`


def make_node(node_id: str, cluster: str, metadata: Mapping[str, Any] | None) -> core_pb2.Node:
    node = core_pb2.Node(id=node_id, cluster=cluster, user_agent_name="meshpilot-test-client")
    if metadata:
        node.metadata.CopyFrom(json_format.ParseDict(dict(metadata), struct_pb2.Struct()))
    return node


class _ClientBase:
    """Channel, call and a reader task that queues responses (or the end of the stream)."""

    def __init__(
        self,
        target: str,
        node_id: str,
        *,
        cluster: str = "test-cluster",
        node_metadata: Mapping[str, Any] | None = None,
        call_metadata: Sequence[tuple[str, str]] = (),
        node_on_first_only: bool = True,
    ) -> None:
        self.target = target
        self.node = make_node(node_id, cluster, node_metadata)
        self._call_metadata = tuple(call_metadata)
        self._node_on_first_only = node_on_first_only
        self._sent_first = False
        self._channel: grpc.aio.Channel | None = None
        self._call: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self.received: list[Any] = []  # every response, in arrival order

    async def __aenter__(self) -> _ClientBase:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _open(self, stub: ads_pb2_grpc.AggregatedDiscoveryServiceStub) -> Any:
        raise NotImplementedError

    async def connect(self) -> None:
        self._channel = grpc.aio.insecure_channel(self.target)
        stub = ads_pb2_grpc.AggregatedDiscoveryServiceStub(self._channel)
        self._call = self._open(stub)
        self._reader = asyncio.create_task(self._read_loop())

    async def close(self) -> None:
        if self._call is not None:
            self._call.cancel()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        if self._channel is not None:
            await self._channel.close()
        self._channel = self._call = self._reader = None

    async def recv(self, timeout: float = 5.0) -> Any:
        """The next response; raises AdsStreamClosed if the server ended the stream, TimeoutError if
        nothing arrived in time."""
        item = await asyncio.wait_for(self._queue.get(), timeout)
        if isinstance(item, AdsStreamClosed):
            self._queue.put_nowait(item)  # keep reporting it
            raise item
        return item

    async def expect_nothing(self, within: float = 0.3) -> None:
        """Assert that no response arrives for `within` seconds."""
        with contextlib.suppress(TimeoutError):
            response = await self.recv(within)
            raise AssertionError(f"unexpected response: {response.type_url} nonce {response.nonce}")

    async def closed_status(self, timeout: float = 5.0) -> AdsStreamClosed:
        """Wait for the server to end the stream and return its status."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                await self.recv(max(0.0, deadline - loop.time()))
            except AdsStreamClosed as closed:
                return closed

    async def _write(self, request: Any) -> None:
        if not self._sent_first or not self._node_on_first_only:
            request.node.CopyFrom(self.node)
        self._sent_first = True
        await self._call.write(request)

    async def _read_loop(self) -> None:
        try:
            while True:
                response = await self._call.read()
                if response is grpc.aio.EOF:
                    break
                self.received.append(response)
                await self._on_response(response)
            status = await self._call.code()
            self._queue.put_nowait(AdsStreamClosed(status, await self._call.details()))
        except grpc.aio.AioRpcError as err:
            self._queue.put_nowait(AdsStreamClosed(err.code(), err.details() or ""))

    async def _on_response(self, response: Any) -> None:
        self._queue.put_nowait(response)


class AdsClient(_ClientBase):
    """SotW ADS test client."""

    def __init__(self, target: str, node_id: str, **kwargs: Any) -> None:
        super().__init__(target, node_id, **kwargs)
        self.names: dict[str, list[str]] = {}  # current subscription per type
        self.nonces: dict[str, str] = {}  # last nonce received per type
        self.acked: dict[str, str] = {}  # last version ACKed per type
        self.nacks: dict[str, list[str]] = {}  # NACK messages sent per type
        self.resources: dict[str, dict[str, Message]] = {}  # auto mode: what "Envoy" holds
        self._auto = False
        self._reject: Callable[[discovery_pb2.DiscoveryResponse], str | None] | None = None
        self._changed = asyncio.Event()

    def _open(self, stub: ads_pb2_grpc.AggregatedDiscoveryServiceStub) -> Any:
        return stub.StreamAggregatedResources(metadata=self._call_metadata)

    async def request(
        self,
        type_url: str,
        names: Iterable[str] = (),
        *,
        version: str | None = None,
        nonce: str | None = None,
        error: str | None = None,
    ) -> None:
        """Send a DiscoveryRequest. version/nonce default to the last ACKed version and the last
        nonce received for the type, like a real client; pass "" to send none."""
        names = list(names)
        self.names[type_url] = names
        request = discovery_pb2.DiscoveryRequest(
            type_url=type_url,
            resource_names=names,
            version_info=self.acked.get(type_url, "") if version is None else version,
            response_nonce=self.nonces.get(type_url, "") if nonce is None else nonce,
        )
        if error is not None:
            request.error_detail.CopyFrom(
                status_pb2.Status(code=grpc.StatusCode.INTERNAL.value[0], message=error)
            )
            self.nacks.setdefault(type_url, []).append(error)
        await self._write(request)

    async def ack(self, response: discovery_pb2.DiscoveryResponse) -> None:
        self.acked[response.type_url] = response.version_info
        await self.request(
            response.type_url,
            self.names.get(response.type_url, []),
            version=response.version_info,
            nonce=response.nonce,
        )

    async def nack(self, response: discovery_pb2.DiscoveryResponse, message: str) -> None:
        await self.request(
            response.type_url, self.names.get(response.type_url, []), nonce=response.nonce, error=message
        )

    async def _on_response(self, response: discovery_pb2.DiscoveryResponse) -> None:
        self.nonces[response.type_url] = response.nonce
        if not self._auto:
            self._queue.put_nowait(response)
            return
        await self._auto_handle(response)

    # --- auto mode: subscribe and ACK like Envoy --------------------------------------------------

    async def start_auto(
        self, reject: Callable[[discovery_pb2.DiscoveryResponse], str | None] | None = None
    ) -> None:
        """Subscribe like Envoy and ACK every response; `reject(response)` returning a message NACKs it."""
        self._auto = True
        self._reject = reject
        await self.request(CLUSTER, [])

    async def wait_for(self, predicate: Callable[[AdsClient], bool], timeout: float = 5.0) -> None:
        async def loop() -> None:
            while not predicate(self):
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(loop(), timeout)

    async def wait_acked(
        self, types: Iterable[str] = (CLUSTER, ENDPOINT, LISTENER, ROUTE), timeout: float = 5.0
    ) -> None:
        wanted = list(types)
        await self.wait_for(lambda c: all(t in c.acked for t in wanted), timeout)

    async def _auto_handle(self, response: discovery_pb2.DiscoveryResponse) -> None:
        type_url = response.type_url
        problem = self._reject(response) if self._reject else None
        if problem is not None:
            await self.nack(response, problem)
        else:
            self._apply(response)
            await self.ack(response)
            await self._follow_references(type_url)
        self._changed.set()

    def _apply(self, response: discovery_pb2.DiscoveryResponse) -> None:
        type_url = response.type_url
        received = {resource_name(m): m for m in map(decode, response.resources)}
        if type_url in FULL_STATE:
            self.resources[type_url] = received
        else:
            wanted = set(self.names.get(type_url, []))
            held = {n: m for n, m in self.resources.get(type_url, {}).items() if n in wanted}
            held.update(received)
            self.resources[type_url] = held

    async def _follow_references(self, type_url: str) -> None:
        if type_url == CLUSTER:
            clusters = self.resources.get(CLUSTER, {}).values()
            eds = sorted({eds_name(c) for c in clusters if c.type == cluster_pb2.Cluster.EDS})
            await self._resubscribe(ENDPOINT, eds)
            await self._resubscribe(SECRET, sorted(secret_names(self.resources)))
            if not eds:
                await self._start_lds()
        elif type_url == ENDPOINT:
            await self._start_lds()
        elif type_url == LISTENER:
            routes = {n for lis in self.resources.get(LISTENER, {}).values() for n in route_names(lis)}
            await self._resubscribe(ROUTE, sorted(routes))
            await self._resubscribe(SECRET, sorted(secret_names(self.resources)))

    async def _start_lds(self) -> None:
        # Envoy asks for listeners only once the cluster manager has initialised (CDS, then EDS).
        if LISTENER not in self.names:
            await self.request(LISTENER, [])

    async def _resubscribe(self, type_url: str, names: list[str]) -> None:
        if names != sorted(self.names.get(type_url, [])) and (names or type_url in self.names):
            await self.request(type_url, names)


class DeltaAdsClient(_ClientBase):
    """Delta ADS test client, driven by hand."""

    def __init__(self, target: str, node_id: str, **kwargs: Any) -> None:
        super().__init__(target, node_id, **kwargs)
        self.nonces: dict[str, str] = {}

    def _open(self, stub: ads_pb2_grpc.AggregatedDiscoveryServiceStub) -> Any:
        return stub.DeltaAggregatedResources(metadata=self._call_metadata)

    async def request(
        self,
        type_url: str,
        subscribe: Iterable[str] = (),
        unsubscribe: Iterable[str] = (),
        *,
        nonce: str = "",
        error: str | None = None,
        initial_versions: Mapping[str, str] | None = None,
    ) -> None:
        request = discovery_pb2.DeltaDiscoveryRequest(
            type_url=type_url,
            resource_names_subscribe=list(subscribe),
            resource_names_unsubscribe=list(unsubscribe),
            response_nonce=nonce,
            initial_resource_versions=dict(initial_versions or {}),
        )
        if error is not None:
            request.error_detail.CopyFrom(
                status_pb2.Status(code=grpc.StatusCode.INTERNAL.value[0], message=error)
            )
        await self._write(request)

    async def ack(self, response: discovery_pb2.DeltaDiscoveryResponse) -> None:
        await self.request(response.type_url, nonce=response.nonce)

    async def nack(self, response: discovery_pb2.DeltaDiscoveryResponse, message: str) -> None:
        await self.request(response.type_url, nonce=response.nonce, error=message)

    async def _on_response(self, response: discovery_pb2.DeltaDiscoveryResponse) -> None:
        self.nonces[response.type_url] = response.nonce
        self._queue.put_nowait(response)
