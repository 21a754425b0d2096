"""`pilot serve`: flag values checked before anything starts, and start-up failures as one line.

A typo in a flag must not leave a half-started control plane or a traceback: everything that can be
checked without binding a port is checked here first; what only fails while starting (a port in use,
a CA directory that cannot be created) is mapped to one line by `raise_start_failure`.
"""

from __future__ import annotations

import argparse
import re
import socket
from pathlib import Path

import yaml

from pilot.cli_errors import FAILED, CliError, os_error_text, require_paths, yaml_error_text


def check_serve_args(args: argparse.Namespace) -> None:
    require_paths(args.config or [])
    for flag in ("xds_address", "http_address", "ratelimit_address", "webhook_address"):
        value = getattr(args, flag, "") or ""
        if value:
            check_address("--" + flag.replace("_", "-"), value)
            check_free("--" + flag.replace("_", "-"), value)
    _check_mesh_config(args.mesh_config)
    if args.debounce < 0:
        raise CliError(f"--debounce {args.debounce:g}: want seconds >= 0")
    if args.ca_dir:
        from pilot.model.durations import parse_duration

        ca_dir = Path(args.ca_dir)
        if ca_dir.exists() and not ca_dir.is_dir():
            raise CliError(f"--ca-dir {ca_dir}: not a directory")
        if not ca_dir.exists() and not ca_dir.parent.is_dir():
            raise CliError(f"--ca-dir {ca_dir}: no such directory: {ca_dir.parent}")

        try:
            parse_duration(args.cert_ttl)
        except ValueError as exc:
            raise CliError(f"--cert-ttl: {exc}") from exc
    if args.webhook_address:
        for name in ("tls.crt", "tls.key"):
            if not (Path(args.webhook_cert_dir or ".") / name).is_file():
                raise CliError(f"--webhook-address needs --webhook-cert-dir DIR holding {name}")
    if args.ratelimit_redis and not re.match(r"^(redis|rediss|unix)://", args.ratelimit_redis):
        raise CliError(f"--ratelimit-redis {args.ratelimit_redis!r}: want redis://HOST:PORT")
    if args.kube:
        check_kubeconfig(args.kubeconfig, args.context)


def check_address(flag: str, value: str) -> None:
    """HOST:PORT (HOST may be empty or [v6]); gRPC's unix: addresses pass as they are."""
    if value.startswith("unix:"):
        return
    _host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise CliError(f"{flag} {value!r}: want HOST:PORT, e.g. 127.0.0.1:15010")


def check_free(flag: str, value: str) -> None:
    """A port someone else listens on fails here, before anything starts (gRPC would log a C++ error
    line first, and half the control plane would already run)."""
    host, _, port = value.rpartition(":")
    if value.startswith("unix:") or int(port) == 0:
        return
    host = host.strip("[]") or "0.0.0.0"
    try:
        infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise CliError(f"{flag} {value!r}: unknown host {host!r}") from exc
    family, _, _, _, sockaddr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        # As the servers do: a port that only has connections in TIME_WAIT (a restart) is free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(sockaddr)
        except OSError as exc:
            raise CliError(f"{flag}: cannot listen on {value}: {exc.strerror or exc}", FAILED) from exc


def _check_mesh_config(path: str | None) -> None:
    if not path:
        return
    require_paths([path])
    try:
        doc = yaml.safe_load(Path(path).read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"--mesh-config {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CliError(f"--mesh-config {path}: not YAML: {yaml_error_text(exc)}") from exc
    if doc is not None and not isinstance(doc, dict):
        raise CliError(f"--mesh-config {path}: want a mapping (rootNamespace, trustDomain, ...)")


def check_kubeconfig(kubeconfig: str | None, context: str | None) -> None:
    """Load the client configuration once, so that a missing or broken kubeconfig is one line."""
    from kubernetes.config import ConfigException

    from pilot.sources.kube import api_client_from

    if kubeconfig:
        require_paths([kubeconfig])
    try:
        api_client_from(kubeconfig, context)
    except ConfigException as exc:
        hint = "" if kubeconfig else " (give --kubeconfig FILE, or set $KUBECONFIG)"
        raise CliError(f"kubeconfig: {_first_line(exc)}{hint}") from exc
    except yaml.YAMLError as exc:
        raise CliError(f"kubeconfig {kubeconfig or ''}: not YAML: {yaml_error_text(exc)}") from exc
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise CliError(f"kubeconfig {kubeconfig or ''}: {_first_line(exc)}") from exc


_BIND = re.compile(r"Failed to bind to address (\S+?);")


def raise_start_failure(exc: BaseException) -> None:
    """A CliError for what commonly fails while the control plane starts; others are left as they are."""
    from kubernetes.config import ConfigException

    if isinstance(exc, RuntimeError) and (m := _BIND.search(str(exc))):  # grpc.aio's add_insecure_port
        raise CliError(f"cannot listen on {m.group(1)} (address in use or not local)", FAILED) from exc
    if isinstance(exc, OSError):
        raise CliError(os_error_text(exc), FAILED) from exc
    if isinstance(exc, ConfigException):
        raise CliError(f"kubeconfig: {_first_line(exc)}", FAILED) from exc
    if isinstance(exc, ValueError):
        raise CliError(_first_line(exc), FAILED) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
