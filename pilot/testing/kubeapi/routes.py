"""URL layout of the Kubernetes REST API: which resource, namespace, name and verb a request means.

https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-uris
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pilot.testing.kubeapi.errors import ApiError, no_such_path
from pilot.testing.kubeapi.resources import ApiResource

_METHOD_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True)
class Target:
    """A request for a resource collection or object (not a discovery document)."""

    resource: ApiResource
    version: str
    namespace: str  # "" for cluster-wide requests
    name: str
    subresource: str
    verb: str


@dataclass(frozen=True)
class Discovery:
    """A discovery request: ("api",), ("api", v), ("apis",), ("apis", group) or ("apis", group, v)."""

    parts: tuple[str, ...]


def is_true(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


def parse(method: str, path: str, query: Mapping[str, str],
          served: Mapping[tuple[str, str], Mapping[str, ApiResource]]) -> Target | Discovery:
    """`served` maps (group, version) to the resources it serves, by plural."""
    parts = tuple(p for p in path.split("/") if p)
    if not parts or parts[0] not in ("api", "apis"):
        raise no_such_path()
    if parts[0] == "api":
        if len(parts) == 1:
            return Discovery(parts)
        group, version, rest = "", parts[1], parts[2:]
    else:
        if len(parts) <= 2:
            return Discovery(parts)
        group, version, rest = parts[1], parts[2], parts[3:]
    plurals = served.get((group, version))
    if plurals is None:
        raise no_such_path()
    if not rest:
        return Discovery(parts)
    namespaced_path = rest[0] == "namespaces" and len(rest) >= 3 and rest[2] in plurals
    if namespaced_path:
        namespace, plural, tail = rest[1], rest[2], rest[3:]
    else:
        namespace, plural, tail = "", rest[0], rest[1:]
    res = plurals.get(plural)
    if res is None or len(tail) > 2 or (namespaced_path and not res.namespaced):
        raise no_such_path()
    name = tail[0] if tail else ""
    sub = tail[1] if len(tail) > 1 else ""
    if sub and (sub != "status" or not res.status_subresource):
        raise no_such_path()
    if res.namespaced and not namespace and (name or method != "GET"):
        raise no_such_path()  # objects of namespaced kinds are only addressed inside a namespace
    if method == "GET":
        verb = "get" if name else ("watch" if is_true(query.get("watch")) else "list")
    elif method in _METHOD_VERBS:
        verb = _METHOD_VERBS[method]
        if (verb == "create") == bool(name):
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the "
                                                    "requested resource")
    else:
        raise ApiError(405, "MethodNotAllowed", f"method {method} not allowed")
    return Target(res, version, namespace, name, sub, verb)


@dataclass(frozen=True)
class Denial:
    """An RBAC refusal: `verb` None means every verb, `namespace` None means everywhere."""

    plural: str
    group: str
    verb: str | None
    namespace: str | None

    def covers(self, t: Target) -> bool:
        return (self.plural == t.resource.plural and self.group == t.resource.group
                and self.verb in (None, t.verb) and self.namespace in (None, t.namespace))


def forbidden(t: Target, user: str) -> ApiError:
    """The 403 the real authorizer gives, naming user, verb, resource, group and scope."""
    resource = f"{t.resource.plural}/{t.subresource}" if t.subresource else t.resource.plural
    who = f'{t.resource.group_resource()} "{t.name}"' if t.name else t.resource.group_resource()
    scope = f'in the namespace "{t.namespace}"' if t.namespace else "at the cluster scope"
    details: dict[str, str] = {"kind": t.resource.plural}
    if t.resource.group:
        details["group"] = t.resource.group
    if t.name:
        details["name"] = t.name
    return ApiError(403, "Forbidden", f'{who} is forbidden: User "{user}" cannot {t.verb} resource '
                                      f'"{resource}" in API group "{t.resource.group}" {scope}', details)
