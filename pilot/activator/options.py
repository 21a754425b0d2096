"""`pilot serve` options for the activator and scale-to-zero (`--activator ADDR` turns them on)."""

from __future__ import annotations

import argparse
import ipaddress
from dataclasses import dataclass, field

from pilot.activator.scaler import ScalerOptions
from pilot.model.durations import parse_duration


@dataclass(frozen=True)
class ActivatorOptions:
    address: str  # IP:PORT; the IP is what revisions in PROXY mode get as their endpoint
    activation_hook: str = ""
    deactivation_hook: str = ""
    timeout: float = 10.0  # how long a request may wait for a cold revision
    queue_size: int = 1000  # requests held per revision
    scaler: ScalerOptions = field(default_factory=ScalerOptions)


def _address(text: str) -> str:
    host, sep, port = text.rpartition(":")
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not IP:PORT") from None
    if not sep or not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not IP:PORT")
    if ip.is_unspecified:
        raise argparse.ArgumentTypeError(f"{text!r}: give the IP proxies should connect to, not {ip}")
    return text


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return int(text)


def add_activator_options(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("Knative activator (scale from and to zero)")
    g.add_argument("--activator", type=_address, metavar="IP:PORT",
                   help="run the activator here (port 0: any free port); revisions without ready pods get it "
                   "as their endpoint")
    g.add_argument("--activation-hook", default="", metavar="CMD|URL",
                   help="run when a cold revision gets a request, once per cold period: a command with "
                   "{namespace} and {revision} filled in, or a URL to POST to")
    g.add_argument("--deactivation-hook", default="", metavar="CMD|URL",
                   help="run after a revision's scale-to-zero hand-off, when every proxy ACKed the activator")
    g.add_argument("--activation-timeout", type=_duration, default=10.0, metavar="DURATION",
                   help="how long a request waits for a cold revision before a 503 (default 10s)")
    g.add_argument("--activator-queue", type=_positive, default=1000, metavar="N",
                   help="requests held per revision; more get a 503 (default 1000)")
    g.add_argument("--scale-to-zero-after", type=_duration, default=0.0, metavar="DURATION",
                   help="idle time before a revision is scaled to zero (0: never, the default)")
    g.add_argument("--scale-to-zero-grace", type=_duration, default=1.0, metavar="DURATION",
                   help="after every proxy ACKed the activator, wait this long before deactivating (default 1s)")
    g.add_argument("--handoff-timeout", type=_duration, default=10.0, metavar="DURATION",
                   help="give up a scale-to-zero when a connected proxy has not ACKed within this (default 10s)")


def activator_options(args: argparse.Namespace) -> ActivatorOptions | None:
    if not getattr(args, "activator", None):
        return None
    return ActivatorOptions(
        address=args.activator, activation_hook=args.activation_hook, deactivation_hook=args.deactivation_hook,
        timeout=args.activation_timeout, queue_size=args.activator_queue,
        scaler=ScalerOptions(scale_to_zero_after=args.scale_to_zero_after, grace=args.scale_to_zero_grace,
                             handoff_timeout=args.handoff_timeout))
