"""The resources being patched: unpacked on first use, changed inside one patch's transaction.

A patch either applies as a whole or not at all: `begin()` starts a transaction, every touched resource
is copied on first write, `problems()` checks the touched ones, `commit()` keeps them, `rollback()` drops
them. What Envoy would reject never leaves this module.
"""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf import any_pb2
from google.protobuf.message import Message

from pilot.translate.envoyfilter.checks import violations
from pilot.translate.envoyfilter.lists import unpack
from pilot.translate.envoyfilter.semantic import semantic_problems
from pilot.translate.pb import pack

Resources = dict[str, dict[str, any_pb2.Any]]


class PatchState:
    def __init__(self, resources: Resources) -> None:
        self._packed = resources
        self._unpacked: dict[str, dict[str, Message]] = {}
        self._work: dict[str, dict[str, Message | None]] = {}
        self._changed: dict[str, set[str]] = {}

    # ---- reading and writing -------------------------------------------------------------------
    def _base(self, type_url: str) -> dict[str, Message]:
        if type_url not in self._unpacked:
            out: dict[str, Message] = {}
            for name, a in self._packed.get(type_url, {}).items():
                msg = unpack(a)
                if msg is not None:
                    out[name] = msg
            self._unpacked[type_url] = out
        return self._unpacked[type_url]

    def names(self, type_url: str) -> list[str]:
        names = dict.fromkeys(self._base(type_url))
        names.update(dict.fromkeys(self._work.get(type_url, {})))
        return [n for n in names if self.peek(type_url, n) is not None]

    def peek(self, type_url: str, name: str) -> Message | None:
        work = self._work.get(type_url, {})
        return work[name] if name in work else self._base(type_url).get(name)

    def edit(self, type_url: str, name: str) -> Message:
        """A writable copy of a resource for this transaction."""
        work = self._work.setdefault(type_url, {})
        if name not in work or work[name] is None:
            base = self.peek(type_url, name)
            if base is None:
                raise KeyError(name)
            copy = type(base)()
            copy.CopyFrom(base)
            work[name] = copy
        msg = work[name]
        assert msg is not None
        return msg

    def put(self, type_url: str, name: str, msg: Message) -> None:
        self._work.setdefault(type_url, {})[name] = msg

    def delete(self, type_url: str, name: str) -> None:
        self._work.setdefault(type_url, {})[name] = None

    def items(self, type_url: str) -> Iterator[tuple[str, Message]]:
        for name in self.names(type_url):
            msg = self.peek(type_url, name)
            if msg is not None:
                yield name, msg

    # ---- transactions --------------------------------------------------------------------------
    def begin(self) -> None:
        self._work = {}

    def problems(self) -> list[str]:
        out: list[str] = []
        for typed in self._work.values():
            for name, msg in typed.items():
                if msg is None:
                    continue
                if getattr(msg, "name", name) != name:
                    out.append(f"{name}: a patch may not rename a resource")
                out.extend(f"{name}: {v}" for v in violations(msg)[:3])
                out.extend(f"{name}: {v}" for v in semantic_problems(msg))
        return out

    def commit(self) -> None:
        for type_url, typed in self._work.items():
            base = self._base(type_url)
            self._changed.setdefault(type_url, set()).update(typed)
            for name, msg in typed.items():
                if msg is None:
                    base.pop(name, None)
                else:
                    base[name] = msg
        self._work = {}

    def rollback(self) -> None:
        self._work = {}

    def packed(self) -> Resources:
        """The resources with every committed change; untouched ones keep their original bytes."""
        out = {t: dict(v) for t, v in self._packed.items()}
        for type_url, names in self._changed.items():
            typed = out.setdefault(type_url, {})
            for name in names:
                msg = self._unpacked[type_url].get(name)
                if msg is None:
                    typed.pop(name, None)
                else:
                    typed[name] = pack(msg)
        return out
