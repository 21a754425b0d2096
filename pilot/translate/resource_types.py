"""xDS type URLs of the resources translation produces, and the shape of one proxy's resource set."""

from __future__ import annotations

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.config.listener.v3 import listener_pb2
from envoy.config.route.v3 import route_pb2
from google.protobuf import any_pb2

from pilot.translate.pb import type_url
from pilot.translate.secrets import SECRET_TYPE_URL

CLUSTER = type_url(cluster_pb2.Cluster)
ENDPOINT = type_url(endpoint_pb2.ClusterLoadAssignment)
LISTENER = type_url(listener_pb2.Listener)
ROUTE = type_url(route_pb2.RouteConfiguration)
SECRET = SECRET_TYPE_URL

# type URL -> resource name -> packed resource
Resources = dict[str, dict[str, any_pb2.Any]]
