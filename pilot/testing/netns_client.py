"""An app's HTTP calls from inside a pod: `python -m pilot.testing.netns_client URL [-n N] [-H 'k: v']`.

Run in a pod's network namespace as the app's uid (`NetnsLab.call`), it resolves the URL's host through
the pod's /etc/hosts and connects where the app would, so iptables capture decides what happens, not
this program. Prints one JSON line: answers by version (`HTTP <code>` for non-200s, the exception name
for failed connections) and the last body. Standard library only: it runs under any uid's Python.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import urllib.parse
from collections import Counter


def call(url: str, n: int, headers: dict[str, str], timeout: float) -> dict[str, object]:
    parts = urllib.parse.urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    seen: Counter[str] = Counter()
    last: object = None
    conn: http.client.HTTPConnection | None = None
    for _ in range(n):
        try:
            if conn is None:
                conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=timeout)
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            try:
                last = json.loads(body)
            except ValueError:
                last = body.decode("utf-8", "replace")[:500]
            version = last.get("version", "?") if isinstance(last, dict) else "?"
            seen[version if resp.status == 200 else f"HTTP {resp.status}"] += 1
        except (OSError, http.client.HTTPException) as exc:
            seen[type(exc).__name__] += 1
            last = str(exc)
            if conn is not None:
                conn.close()
            conn = None
    return {"answers": dict(seen), "last": last}


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="netns_client")
    p.add_argument("url")
    p.add_argument("-n", type=int, default=1)
    p.add_argument("-H", action="append", default=[], help="a header 'Name: value'")
    p.add_argument("--timeout", type=float, default=5.0)
    args = p.parse_args(argv)
    headers = dict((k.strip(), v.strip()) for k, _, v in (h.partition(":") for h in args.H))
    print(json.dumps(call(args.url, args.n, headers, args.timeout)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
