"""The page's static files (package data in pilot/dashboard/static): plain HTML, CSS and one script."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from pilot.httpserver import Response

_TYPES = {"html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8",
          "css": "text/css; charset=utf-8"}


@cache
def static_bytes(name: str) -> bytes:
    return (files("pilot.dashboard") / "static" / name).read_bytes()


def static_response(name: str) -> Response:
    return Response(200, static_bytes(name), _TYPES[name.rsplit(".", 1)[-1]])
