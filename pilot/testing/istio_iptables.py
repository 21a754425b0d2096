"""The nat rules istio-init installs in a pod (`istio-iptables -p 15001 -z 15006 -u 1337 -m REDIRECT
-i '*' -b '*' -d 15090,15021,15020`), as `iptables-restore` input for one pod's network namespace.

Learned from Istio's tools/istio-iptables (pkg/capture/run.go and its testdata/*.golden files):
- inbound: PREROUTING -> ISTIO_INBOUND: the excluded ports return, every other TCP port is redirected to
  15006 (Envoy's virtualInbound listener);
- outbound: OUTPUT -> ISTIO_OUTPUT -> ISTIO_REDIRECT (15001, virtualOutbound) except for the proxy's own
  uid/gid 1337 (the owner match, so Envoy's upstream connections are not captured again), traffic to
  127.0.0.1, and Envoy's inbound passthrough connections from 127.0.0.6 to the app;
- loopback: an app's call to its own pod IP goes out on `lo`; from the proxy (uid 1337) it is sent to
  inbound capture (a pod calling its own Service), from anybody else it is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

PROXY_UID = 1337
PROXY_GID = 1337
OUTBOUND_PORT = 15001
INBOUND_PORT = 15006
TUNNEL_PORT = 15008  # HBONE; istio-iptables always leaves it alone
# The injector's defaults: Prometheus stats (15090), health (15021) and the agent's merged metrics (15020);
# 15000 (admin) listens on 127.0.0.1 only, and is excluded here too so the lab's probes never loop.
EXCLUDED_INBOUND_PORTS = (15090, 15021, 15020, 15000)
INBOUND_PASSTHROUGH_SOURCE = "127.0.0.6"  # Envoy binds inbound passthrough connections to it
CHAINS = ("ISTIO_INBOUND", "ISTIO_REDIRECT", "ISTIO_IN_REDIRECT", "ISTIO_OUTPUT")


@dataclass(frozen=True)
class CaptureConfig:
    proxy_uid: int = PROXY_UID
    proxy_gid: int = PROXY_GID
    outbound_port: int = OUTBOUND_PORT
    inbound_port: int = INBOUND_PORT
    excluded_inbound_ports: tuple[int, ...] = EXCLUDED_INBOUND_PORTS


def nat_rules(cfg: CaptureConfig = CaptureConfig()) -> list[str]:
    """The `-A` rules of the nat table, in istio-iptables' order."""
    owner = [("uid-owner", cfg.proxy_uid), ("gid-owner", cfg.proxy_gid)]
    rules = [f"-A ISTIO_INBOUND -p tcp --dport {p} -j RETURN"
             for p in (TUNNEL_PORT, *cfg.excluded_inbound_ports)]
    rules += [f"-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports {cfg.outbound_port}",
              f"-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports {cfg.inbound_port}",
              "-A PREROUTING -p tcp -j ISTIO_INBOUND",
              "-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT",
              "-A OUTPUT -p tcp -j ISTIO_OUTPUT",
              f"-A ISTIO_OUTPUT -o lo -s {INBOUND_PASSTHROUGH_SOURCE}/32 -j RETURN"]
    for match, ident in owner:
        rules += [f"-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport {TUNNEL_PORT} "
                  f"-m owner --{match} {ident} -j ISTIO_IN_REDIRECT",
                  f"-A ISTIO_OUTPUT -o lo -m owner ! --{match} {ident} -j RETURN",
                  f"-A ISTIO_OUTPUT -m owner --{match} {ident} -j RETURN"]
    rules += ["-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN", "-A ISTIO_OUTPUT -j ISTIO_REDIRECT"]
    return rules


def restore_input(cfg: CaptureConfig = CaptureConfig(), rules: Iterable[str] | None = None) -> str:
    """`iptables-restore` input (nat table only) that creates the chains and installs the rules."""
    body = list(rules if rules is not None else nat_rules(cfg))
    return "\n".join(["*nat", *(f":{c} - [0:0]" for c in CHAINS), *body, "COMMIT", ""])
