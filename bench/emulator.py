"""The KMock emulator for benchmarks: the same API server, with a flat cost per request.

KMock (kmock==0.8, pinned) records every request it serves, for tests' assertions, and on
each new request finds the reaction that serves it by scanning that whole history, oldest
first, evaluating each reaction's criteria on every past request (`request in
reaction._source`). Each request thus costs time proportional to all requests before it: here
a GET of one object took 5 ms after 100 requests and 30 ms after 1,000, and py-spy put > 90 %
of the emulator's time in that scan (`kmock/_internal/filtering.py`). A benchmark of the
operator would measure the emulator's history, not the operator.

`ForgetfulApiServer` forgets each request once it has been served, so the scan only ever sees
the requests in flight. Everything else is devkit's `ApiServer`, unchanged. Benchmarks only:
tests keep the full history for their assertions.
"""

from __future__ import annotations

from typing import Any

import aiohttp.web
import attrs
import kmock

from devkit.kube import ApiServer, KubeEmulator


@attrs.define(kw_only=True)
class ForgetfulApiServer(ApiServer):
    """devkit's ApiServer that drops a request from KMock's history once it is answered."""

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        try:
            return await super()._handle(request)
        finally:
            # KMock's private lists (pinned version): the root's history, and each reaction's
            # record of what it served.
            forget(self._requests, request)
            for reaction in self._payloads:
                forget(reaction._requests, request)


def forget(history: list[Any], request: object) -> None:
    """Remove `request` (by identity) from `history`, searching from the newest end."""
    for index in range(len(history) - 1, -1, -1):
        if history[index] is request:
            del history[index]
            return


class BenchEmulator(KubeEmulator):
    """devkit's KubeEmulator serving a ForgetfulApiServer."""

    server_class = ForgetfulApiServer
