"""`pilot dashboard`: check that a running `pilot serve` answers, print the dashboard's URL and open it
in a browser, as `istioctl dashboard kiali` does (the page itself is served by `pilot serve`)."""

from __future__ import annotations

import argparse
import sys


def add_dashboard_command(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    d = sub.add_parser("dashboard", help="open the web dashboard of a running `pilot serve` "
                       "(mesh graph with live traffic, proxy status, proxy config)")
    d.add_argument("--server", default="http://127.0.0.1:15014", help="the control plane's HTTP address")
    d.add_argument("--browser", action=argparse.BooleanOptionalAction, default=True,
                   help="open the page in the default browser")
    d.set_defaults(func=run_dashboard)


def run_dashboard(args: argparse.Namespace) -> int:
    from pilot.cli_proxy_config import server_base
    from pilot.testing.processes import http_get

    base = server_base(args.server)
    try:
        status, _ = http_get(base + "/dashboard/api/proxies")
    except OSError as exc:
        print(f"pilot dashboard: cannot reach {args.server}: {getattr(exc, 'reason', exc)}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"pilot dashboard: {args.server} answered {status} (is it `pilot serve`?)", file=sys.stderr)
        return 1
    url = base + "/dashboard"
    print(url)
    if args.browser:
        import webbrowser

        webbrowser.open(url)
    return 0
