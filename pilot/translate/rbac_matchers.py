"""One AuthorizationPolicy value -> one Envoy RBAC Principal or Permission.

Value syntax and the mapping follow Istio's AuthorizationPolicy reference
(https://istio.io/latest/docs/reference/config/security/authorization-policy/ and
https://istio.io/latest/docs/reference/config/security/conditions/): `*` matches any non-empty value,
`x*` is a prefix, `*x` a suffix. Principals are SPIFFE ids without the `spiffe://` scheme.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from envoy.config.core.v3.address_pb2 import CidrRange
from envoy.config.core.v3.extension_pb2 import TypedExtensionConfig
from envoy.config.rbac.v3.rbac_pb2 import Permission, Principal
from envoy.config.route.v3.route_components_pb2 import HeaderMatcher
from envoy.extensions.path.match.uri_template.v3.uri_template_match_pb2 import UriTemplateMatchConfig
from envoy.type.matcher.v3.metadata_pb2 import MetadataMatcher
from envoy.type.matcher.v3.path_pb2 import PathMatcher
from envoy.type.matcher.v3.regex_pb2 import RegexMatcher
from envoy.type.matcher.v3.string_pb2 import StringMatcher
from envoy.type.matcher.v3.value_pb2 import ListMatcher, OrMatcher, ValueMatcher
from google.protobuf.any_pb2 import Any as AnyPb
from google.protobuf.wrappers_pb2 import UInt32Value

JWT_FILTER = "envoy.filters.http.jwt_authn"
JWT_PAYLOAD = "payload"  # the jwt_authn provider's payload_in_metadata key, as Istio sets it
SPIFFE = "spiffe://"
DEFAULT_TRUST_DOMAIN = "cluster.local"


class ConditionError(ValueError):
    """A value that cannot become an Envoy matcher here (bad syntax, HTTP-only on TCP, unsupported)."""


class HttpOnlyError(ConditionError):
    pass


@dataclass(frozen=True)
class Context:
    for_tcp: bool
    namespace: str  # the policy's namespace: the default for `serviceAccounts` without one
    trust_domain: str = DEFAULT_TRUST_DOMAIN


def quote_meta(text: str) -> str:
    """Escape RE2 metacharacters (Envoy's safe_regex is RE2)."""
    return "".join("\\" + c if c in r"\.+*?()|[]{}^$" else c for c in text)


def string_matcher(value: str, prefix: str = "", ignore_case: bool = False) -> StringMatcher:
    if value == "*":
        return StringMatcher(safe_regex=RegexMatcher(regex=".+"))
    if value.startswith("*"):
        if prefix:  # a suffix match cannot also pin a prefix; say both in one regex
            regex = quote_meta(prefix) + ".*" + quote_meta(value[1:])
            return StringMatcher(safe_regex=RegexMatcher(regex=regex))
        return StringMatcher(suffix=value[1:], ignore_case=ignore_case)
    if value.endswith("*"):
        return StringMatcher(prefix=prefix + value[:-1], ignore_case=ignore_case)
    return StringMatcher(exact=prefix + value, ignore_case=ignore_case)


def header_matcher(name: str, value: str, ignore_case: bool = False) -> HeaderMatcher:
    if value == "*":
        return HeaderMatcher(name=name, present_match=True)
    return HeaderMatcher(name=name, string_match=string_matcher(value, ignore_case=ignore_case))


def cidr_range(value: str) -> CidrRange:
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError as e:
        raise ConditionError(f"invalid IP address or CIDR {value!r}") from e
    return CidrRange(address_prefix=value.split("/", 1)[0], prefix_len=UInt32Value(value=net.prefixlen))


def _http_only(key: str, ctx: Context) -> None:
    if ctx.for_tcp:
        raise HttpOnlyError(f"{key!r} is HTTP only")


def _authenticated(m: StringMatcher) -> Principal:
    return Principal(authenticated=Principal.Authenticated(principal_name=m))


def _metadata(path: Sequence[str], value: ValueMatcher) -> MetadataMatcher:
    return MetadataMatcher(filter=JWT_FILTER, path=[MetadataMatcher.PathSegment(key=k) for k in path],
                           value=value)


# ---- principal side (who calls) --------------------------------------------------------------------
def migrate_trust_domain(principal: str, trust_domain: str) -> str:
    """`cluster.local/ns/x/sa/y` means "this mesh": rewrite it to the mesh's own trust domain."""
    parts = principal.split("/")
    if len(parts) == 5 and parts[0] == DEFAULT_TRUST_DOMAIN:
        return "/".join([trust_domain, *parts[1:]])
    return principal


def principal_id(_key: str, value: str, ctx: Context) -> Principal:
    return _authenticated(string_matcher(migrate_trust_domain(value, ctx.trust_domain), prefix=SPIFFE))


def namespace_id(_key: str, value: str, _ctx: Context) -> Principal:
    ns = ".*".join(quote_meta(p) for p in value.split("*"))
    return _authenticated(StringMatcher(safe_regex=RegexMatcher(regex=f".*/ns/{ns}/.*")))


def service_account_id(_key: str, value: str, ctx: Context) -> Principal:
    ns, _, sa = value.rpartition("/")
    regex = f"spiffe://[^/]+/ns/{quote_meta(ns or ctx.namespace)}/sa/{quote_meta(sa)}"
    return _authenticated(StringMatcher(safe_regex=RegexMatcher(regex=regex)))


def trust_domain_id(_key: str, value: str, _ctx: Context) -> Principal:
    if value == "*":
        return _authenticated(StringMatcher(prefix=SPIFFE))
    if "*" not in value:
        return _authenticated(StringMatcher(prefix=f"{SPIFFE}{value}/"))
    head, _, tail = value.partition("*")
    regex = f"spiffe://{quote_meta(head)}[^/]*{quote_meta(tail)}/.*"
    return _authenticated(StringMatcher(safe_regex=RegexMatcher(regex=regex)))


def direct_remote_ip(_key: str, value: str, _ctx: Context) -> Principal:
    return Principal(direct_remote_ip=cidr_range(value))


def remote_ip(_key: str, value: str, _ctx: Context) -> Principal:
    return Principal(remote_ip=cidr_range(value))


def request_header(key: str, value: str, ctx: Context) -> Principal:
    _http_only(key, ctx)
    name = key[len("request.headers"):]
    if not (name.startswith("[") and name.endswith("]") and len(name) > 2):
        raise ConditionError(f"{key!r}: expected request.headers[<name>]")
    return Principal(header=header_matcher(name[1:-1], value))


_ANY_VALUE = StringMatcher(safe_regex=RegexMatcher(regex=".+"))


def request_principal(key: str, value: str, ctx: Context) -> Principal:
    """`<iss>/<sub>` against the JWT payload jwt_authn leaves in dynamic metadata.

    As in Istio, a `*` only counts at either end of the whole value: `*x/sub` (issuer suffix),
    `iss/x*` (subject prefix), `*x` (subject suffix, any issuer), `x*` (issuer prefix, any subject).
    """
    _http_only(key, ctx)
    head, slash, tail = value.rpartition("/")
    iss, sub = (head, tail) if slash else (value, "")
    if value == "*":
        iss_m, sub_m = _ANY_VALUE, _ANY_VALUE
    elif value.startswith("*"):
        if slash:
            iss_m = _ANY_VALUE if iss == "*" else StringMatcher(suffix=iss[1:])
            sub_m = StringMatcher(exact=sub)
        else:
            iss_m, sub_m = _ANY_VALUE, StringMatcher(suffix=value[1:])
    elif value.endswith("*"):
        if slash:
            iss_m = StringMatcher(exact=iss)
            sub_m = _ANY_VALUE if sub == "*" else StringMatcher(prefix=sub[:-1])
        else:
            iss_m, sub_m = StringMatcher(prefix=value[:-1]), _ANY_VALUE
    else:
        iss_m, sub_m = StringMatcher(exact=iss), StringMatcher(exact=sub)
    return Principal(and_ids=Principal.Set(ids=[
        Principal(metadata=_metadata([JWT_PAYLOAD, "iss"], ValueMatcher(string_match=iss_m))),
        Principal(metadata=_metadata([JWT_PAYLOAD, "sub"], ValueMatcher(string_match=sub_m)))]))


def _claim_path(key: str) -> list[str]:
    rest = key[len("request.auth.claims"):]
    if not (rest.startswith("[") and rest.endswith("]")):
        raise ConditionError(f"{key!r}: expected request.auth.claims[<name>]")
    parts = rest[1:-1].split("][")
    if any(not p or "[" in p or "]" in p for p in parts):
        raise ConditionError(f"{key!r}: expected request.auth.claims[<name>][<nested>]...")
    return parts


_LIST_CLAIMS = {"request.auth.audiences": ["aud"], "request.auth.presenter": ["azp"]}


def jwt_claim(key: str, value: str, ctx: Context) -> Principal:
    """A claim equals `value`, or (for list claims such as `aud` or `groups`) contains it."""
    _http_only(key, ctx)
    claims = _LIST_CLAIMS.get(key) or _claim_path(key)
    one = ValueMatcher(string_match=string_matcher(value))
    either = ValueMatcher(or_match=OrMatcher(value_matchers=[
        ValueMatcher(list_match=ListMatcher(one_of=one)), one]))
    return Principal(metadata=_metadata([JWT_PAYLOAD, *claims], either))


# ---- permission side (what is called) --------------------------------------------------------------
def host_rule(key: str, value: str, ctx: Context) -> Permission:
    _http_only(key, ctx)
    return Permission(header=header_matcher(":authority", value, ignore_case=True))


def method_rule(key: str, value: str, ctx: Context) -> Permission:
    _http_only(key, ctx)
    return Permission(header=header_matcher(":method", value))


def path_rule(key: str, value: str, ctx: Context) -> Permission:
    _http_only(key, ctx)
    if "{*}" in value or "{**}" in value:  # Istio path templates -> Envoy's uri_template matcher
        template = UriTemplateMatchConfig(path_template=value.replace("{**}", "**").replace("{*}", "*"))
        packed = AnyPb()
        packed.Pack(template, deterministic=True)
        return Permission(uri_template=TypedExtensionConfig(name="uri-template", typed_config=packed))
    return Permission(url_path=PathMatcher(path=string_matcher(value)))


def destination_port(_key: str, value: str, _ctx: Context) -> Permission:
    if not value.isdigit() or int(value) > 65535:
        raise ConditionError(f"invalid port {value!r}")
    return Permission(destination_port=int(value))


def destination_ip(_key: str, value: str, _ctx: Context) -> Permission:
    return Permission(destination_ip=cidr_range(value))


def requested_server_name(_key: str, value: str, _ctx: Context) -> Permission:
    return Permission(requested_server_name=string_matcher(value))


PrincipalGen = Callable[[str, str, Context], Principal]
PermissionGen = Callable[[str, str, Context], Permission]

# `when` keys -> generator (https://istio.io/latest/docs/reference/config/security/conditions/).
WHEN_PRINCIPALS: dict[str, PrincipalGen] = {
    "source.ip": direct_remote_ip, "remote.ip": remote_ip, "source.namespace": namespace_id,
    "source.trustDomain": trust_domain_id, "source.serviceAccount": service_account_id,
    "source.principal": principal_id, "request.auth.principal": request_principal,
    "request.auth.audiences": jwt_claim, "request.auth.presenter": jwt_claim,
}
WHEN_PERMISSIONS: dict[str, PermissionGen] = {
    "destination.ip": destination_ip, "destination.port": destination_port,
    "connection.sni": requested_server_name,
}
# `from.source` fields (value field, not-field, generator), in the order they appear in an AND.
SOURCE_FIELDS: tuple[tuple[str, str, PrincipalGen], ...] = (
    ("principals", "notPrincipals", principal_id),
    ("requestPrincipals", "notRequestPrincipals", request_principal),
    ("serviceAccounts", "notServiceAccounts", service_account_id),
    ("trustDomains", "notTrustDomains", trust_domain_id),
    ("namespaces", "notNamespaces", namespace_id),
    ("remoteIpBlocks", "notRemoteIpBlocks", remote_ip),
    ("ipBlocks", "notIpBlocks", direct_remote_ip),
)
OPERATION_FIELDS: tuple[tuple[str, str, PermissionGen], ...] = (
    ("hosts", "notHosts", host_rule),
    ("methods", "notMethods", method_rule),
    ("paths", "notPaths", path_rule),
    ("ports", "notPorts", destination_port),
)


def when_principal_gen(key: str) -> PrincipalGen | None:
    if key.startswith("request.headers"):
        return request_header
    if key.startswith("request.auth.claims"):
        return jwt_claim
    return WHEN_PRINCIPALS.get(key)
