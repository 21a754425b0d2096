"""Activation and deactivation hooks: a command or a webhook URL, told the namespace and revision.

In Kubernetes the hook would scale the revision's Deployment (`kubectl scale --replicas=1 ...`); in
tests and the demo it starts or stops an app process. A command template is split like a shell line
and `{namespace}` / `{revision}` are filled in per argument, with no shell in between (names come
from config); write `sh -c '...'` for shell features. A template starting with http:// or https://
is POSTed a JSON body `{"event", "namespace", "revision"}` instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shlex
import urllib.request

log = logging.getLogger(__name__)


class Hook:
    def __init__(self, template: str, event: str, timeout: float = 60.0) -> None:
        self.template = template.strip()
        self.event = event
        self.timeout = timeout
        if self.template and not self._is_url:
            shlex.split(self.template)  # a broken template fails at start-up, not at the first request

    @property
    def _is_url(self) -> bool:
        return self.template.startswith(("http://", "https://"))

    def __bool__(self) -> bool:
        return bool(self.template)

    async def run(self, namespace: str, revision: str) -> bool:
        """Run the hook to completion; True when it succeeded. Never raises."""
        if not self.template:
            return True
        try:
            if self._is_url:
                return await asyncio.wait_for(asyncio.to_thread(self._post, namespace, revision), self.timeout)
            return await asyncio.wait_for(self._command(namespace, revision), self.timeout)
        except Exception as exc:  # a broken hook must not take the activator down
            log.warning("%s hook for %s/%s failed: %s", self.event, namespace, revision, exc or type(exc).__name__)
            return False

    async def _command(self, namespace: str, revision: str) -> bool:
        argv = [arg.replace("{namespace}", namespace).replace("{revision}", revision)
                for arg in shlex.split(self.template)]
        proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL)
        try:
            code = await proc.wait()
        except BaseException:
            proc.kill()
            raise
        if code != 0:
            log.warning("%s hook for %s/%s exited with %d: %s", self.event, namespace, revision, code, argv)
        return code == 0

    def _post(self, namespace: str, revision: str) -> bool:
        body = json.dumps({"event": self.event, "namespace": namespace, "revision": revision}).encode()
        req = urllib.request.Request(self.template, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            return 200 <= resp.status < 300
