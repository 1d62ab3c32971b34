"""A Kubernetes API for tests: KMock's emulator, made faithful enough for kopf and our operator.

`kmock.KubernetesEmulator` (by kopf's author) keeps objects in memory and serves list, watch,
create, merge/JSON patch and delete, with finalizers. It leaves out what a real API server
maintains itself; `ApiServer` adds the parts kopf and the operator rely on:

- `metadata.resourceVersion`, new on every write: kopf's JSON-patch of finalizers starts with a
  `test` op on it, and kopf waits for the version its own patch produced before it goes on;
- a 422 when that `test` fails (optimistic concurrency), as kube-apiserver answers;
- `metadata.generation`, bumped only when the spec changes (status.observedGeneration needs it);
- `uid`, `creationTimestamp`, `generateName` (kopf names its Events that way);
- the status subresource contract: `/status` writes change only `status`, main writes never do;
- patches that change nothing keep the version and send no watch event;
- a watch from a listing's version: nothing lost or repeated in between;
- the namespace collection (list and watch), which KMock 0.8 cannot route.

`KubeEmulator` serves it on a loopback port from a background thread, so synchronous tests (and
an operator in a child process, through a kubeconfig file) talk to it over real HTTP.
`OperatorProcess` runs `python -m vault_mcp_operator run` against it.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import aiohttp.web
import attrs
import jsonpatch
import kmock
import kubernetes

# KMock's merge/JSON-patch function is the one its emulator applies; pinned (kmock==0.8).
from kmock._internal import dicts as kmock_dicts

from devkit.ports import free_port
from devkit.process import ManagedProcess, spawn

GROUP, VERSION, PLURAL = "vaultmcp.dev", "v1alpha1", "vaultagents"
VAULTAGENTS = f"{GROUP}/{VERSION}/{PLURAL}"
VAULTAGENT_INFO = kmock.ResourceInfo(
    kind="VaultAgent",
    singular="vaultagent",
    namespaced=True,
    shortnames={"va"},
    subresources={"status"},
    verbs={"create", "delete", "get", "list", "patch", "update", "watch"},
)
_WRITES = {kmock.action.CREATE, kmock.action.UPDATE, kmock.action.DELETE}

T = TypeVar("T")


def _now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.define(kw_only=True)
class ApiServer(kmock.KubernetesEmulator):
    """The KMock emulator plus the bookkeeping a real kube-apiserver does on every write."""

    _version: int = attrs.field(default=0, init=False)
    # Writes are serialised so that a version check and the write it guards are one step.
    _writes: asyncio.Lock = attrs.field(factory=asyncio.Lock, init=False)

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        # KMock 0.8 cannot parse the namespace collection URL (it takes "namespaces" for the
        # start of a namespaced path), and kopf lists and watches it when given --namespace.
        if raw_request.path.rstrip("/") == "/api/v1/namespaces":
            await raw_request.read()
            if raw_request.query.get("watch") == "true":
                return await self._watch_namespaces(raw_request)
            items = [_namespace(name) for name in sorted(self._namespaces())]
            meta = {"resourceVersion": str(self._version)}
            return aiohttp.web.json_response(
                {"kind": "NamespaceList", "metadata": meta, "items": items}
            )
        return await super().__call__(raw_request)

    def _namespaces(self) -> set[str]:
        """A namespace exists once something lives in it (tests never create Namespaces)."""
        return {ns for (_, ns, _), obj in self.objects.items() if ns and not obj.deleted}

    async def _watch_namespaces(
        self, raw_request: aiohttp.web.BaseRequest
    ) -> aiohttp.web.StreamResponse:
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(raw_request)
        announced: set[str] = set()
        with contextlib.suppress(ConnectionError):
            while True:  # until the client hangs up or the server stops (cancellation)
                for name in sorted(self._namespaces() - announced):
                    announced.add(name)
                    event = {"type": "ADDED", "object": _namespace(name)}
                    await response.write(json.dumps(event).encode() + b"\n")
                await asyncio.sleep(0.1)
        return response

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        if request.resource is None or request.action not in _WRITES:
            return await super()._handle(request)
        async with self._writes:
            if request.action == kmock.action.CREATE:
                self._prepare_create(request)
            elif request.action == kmock.action.UPDATE:
                unchanged = self._prepare_update(request)
                if unchanged is not None:  # as kube-apiserver: no new version, no watch event
                    return aiohttp.web.json_response(unchanged)
            else:
                self._prepare_delete(request)
            return await super()._handle(request)

    def _next_version(self) -> str:
        self._version += 1
        return str(self._version)

    async def _serve_list(self, request: kmock.Request) -> kmock.Payload:
        """A listing carries the current version, so that a watch can start right after it."""
        listing = await super()._serve_list(request)
        assert isinstance(listing, dict)
        return listing | {"metadata": {"resourceVersion": str(self._version)}}

    async def _serve_watch(self, request: kmock.Request) -> AsyncIterator[kmock.Payload]:
        """Watch from `?resourceVersion=`: nothing lost or repeated between a list and a watch.

        KMock's own watch replays every object and subscribes to changes afterwards, so a write
        landing in between is lost and the listed objects come twice; kopf then patches with a
        stale version and waits forever for the version its first patch produced.
        """
        yield b""  # send the headers now: the client waits for them before anything happens
        assert request.resource is not None
        bus = self._buses[request.resource]
        since = _as_version(request.params.get("resourceVersion"))
        async with self._lock:  # writes publish under this lock: mark and snapshot agree
            mark = await bus.mark()
            snapshot = [
                obj.raw
                for key, obj in self.objects.items()
                if not obj.deleted and _selects(request, key)
            ]
        try:
            for raw in snapshot:
                if _as_version(raw.get("metadata", {}).get("resourceVersion")) > since:
                    yield {"type": "ADDED", "object": raw}
            async for event in bus.stream(since=mark):
                meta = event.get("object", {}).get("metadata", {})
                if _selects(request, (request.resource, meta.get("namespace"), meta.get("name"))):
                    yield event
        finally:
            await bus.unmark(mark)

    def _stored(self, request: kmock.Request) -> kmock.Object | None:
        """The live object a named write is about (None when absent or already gone)."""
        if request.resource is None or request.name is None:
            return None
        key = (request.resource, request.namespace, request.name)
        if key not in self.objects or self.objects[key].deleted:
            return None
        return self.objects[key]

    def _current(self, request: kmock.Request) -> dict[str, Any] | None:
        stored = self._stored(request)
        return None if stored is None else copy.deepcopy(stored.raw)

    def _has_status_subresource(self, request: kmock.Request) -> bool:
        assert request.resource is not None
        try:
            return "status" in self.resources[request.resource].subresources
        except KeyError:
            return False

    def _prepare_create(self, request: kmock.Request) -> None:
        data = request.data if isinstance(request.data, dict) else {}
        meta = data.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + secrets.token_hex(3)
        if request.namespace and not meta.get("namespace"):
            meta["namespace"] = request.namespace
        meta.pop("deletionTimestamp", None)
        meta |= {"uid": str(uuid.uuid4()), "creationTimestamp": _now(), "generation": 1}
        meta["resourceVersion"] = self._next_version()

    def _prepare_update(self, request: kmock.Request) -> dict[str, Any] | None:
        """Stamp a patch with its new version; the current object if it changes nothing."""
        current = self._current(request)
        if current is None:
            return None  # the emulator answers 404 itself
        self._keep_to_subresource(request)
        try:
            patched = kmock_dicts.patch_dict(copy.deepcopy(current), request.data)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise kmock.KubernetesError(status=422, reason="Invalid", message=str(exc)) from exc
        if _normal(patched) == _normal(current):
            return current
        stamp: dict[str, Any] = {"resourceVersion": self._next_version()}
        if patched.get("spec") != current.get("spec"):
            stamp["generation"] = int(current["metadata"].get("generation", 1)) + 1
        _add_to_patch(request.data, stamp)
        return None

    def _keep_to_subresource(self, request: kmock.Request) -> None:
        """`/status` writes change only status; main writes leave status alone (real API)."""
        if not self._has_status_subresource(request):
            return
        to_status = request.subresource == "status"
        if isinstance(request.data, dict):
            for key in list(request.data):
                if (key == "status") != to_status and key != "metadata":
                    del request.data[key]
        elif isinstance(request.data, list):
            request.data[:] = [op for op in request.data if _op_kept(op, to_status)]

    def _prepare_delete(self, request: kmock.Request) -> None:
        """A delete is a write: it gets a new version (the emulator patches or drops the object)."""
        stored = self._stored(request)
        if stored is not None and not stored.get("metadata", {}).get("deletionTimestamp"):
            stored.patch({"metadata": {"resourceVersion": self._next_version()}})


def _namespace(name: str) -> dict[str, Any]:
    meta = {"name": name, "uid": f"namespace-{name}", "resourceVersion": "1"}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def _normal(obj: Any) -> Any:
    """`obj` without empty metadata maps: the API server does not keep `annotations: {}`."""
    if not isinstance(obj, dict):
        return obj
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if v not in ({}, [], None)}
    return obj | {"metadata": meta}


def _as_version(value: object) -> int:
    """Our versions are counters; anything else (absent, KMock's "...") means "from the start"."""
    return int(value) if isinstance(value, str) and value.isdigit() else 0


def _selects(request: kmock.Request, key: tuple[Any, str | None, str | None]) -> bool:
    resource, namespace, name = key
    return bool(
        resource == request.resource
        and (request.namespace is None or namespace == request.namespace)
        and (request.name is None or name == request.name)
    )


def _op_kept(op: dict[str, Any], to_status: bool) -> bool:
    path = str(op.get("path", ""))
    on_status = path == "/status" or path.startswith("/status/")
    return on_status == to_status or path.startswith("/metadata/resourceVersion")


def _add_to_patch(data: Any, stamp: dict[str, Any]) -> None:
    if isinstance(data, dict):
        meta = data.get("metadata") or {}
        data["metadata"] = meta | stamp
    elif isinstance(data, list):
        data.extend({"op": "add", "path": f"/metadata/{k}", "value": v} for k, v in stamp.items())


# -- the server in a background thread ---------------------------------------------------------


@dataclass
class KubeEmulator:
    """`ApiServer` on a loopback port, run by its own event loop in a daemon thread."""

    server_class: ClassVar[type[ApiServer]] = ApiServer  # bench/emulator.py swaps it
    port: int = field(default_factory=free_port)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kube-")))
    server: ApiServer | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _stop: asyncio.Event | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig.json"

    def __enter__(self) -> KubeEmulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(timeout=20):
            raise RuntimeError("the Kubernetes emulator did not start")
        self._write_kubeconfig()

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = self._loop = self._stop = None

    def call(self, fn: Callable[[ApiServer], T]) -> T:
        """Run `fn(server)` on the emulator's loop: the objects are only safe to touch there."""
        assert self._loop is not None
        assert self.server is not None
        server = self.server

        async def in_loop() -> T:
            return fn(server)

        return asyncio.run_coroutine_threadsafe(in_loop(), self._loop).result(timeout=10)

    def _run(self, ready: threading.Event) -> None:
        asyncio.run(self._serve(ready))

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = self.server_class()
        server.resources.load_bundled()
        server.resources[VAULTAGENTS] = VAULTAGENT_INFO
        async with server, kmock.Server(server, port=self.port):
            self.server = server
            ready.set()
            await self._stop.wait()

    def requests_seen(self) -> list[tuple[str, str]]:
        """(method, path) of every request the emulator has served, oldest first."""
        return self.call(lambda server: [(r.method.name, r.url.path) for r in server])

    def _write_kubeconfig(self) -> None:
        """What `kubectl`, kopf and the kubernetes client read: one context, no credentials."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "emulator", "cluster": {"server": self.url}}],
            "users": [{"name": "tester", "user": {}}],
            "contexts": [
                {
                    "name": "emulator",
                    "context": {"cluster": "emulator", "user": "tester", "namespace": "default"},
                }
            ],
            "current-context": "emulator",
        }
        self.kubeconfig.write_text(json.dumps(config))

    # -- clients ---------------------------------------------------------------------------

    def api_client(self) -> kubernetes.client.ApiClient:
        configuration = kubernetes.client.Configuration(host=self.url)
        return kubernetes.client.ApiClient(configuration)

    def raw(self, method: str, path: str, body: Any = None, content_type: str = "") -> Any:
        """One HTTP call to the emulator; JSON in and out. Raises urllib's HTTPError on >= 400."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        req.add_header("Content-Type", content_type or "application/json")
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None


# -- VaultAgents, Secrets and Events, as a test sees them ---------------------------------------


def agents_path(namespace: str, name: str = "") -> str:
    base = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"
    return f"{base}/{name}" if name else base


@dataclass
class Kube:
    """Small typed helpers over the emulator's HTTP API, for tests and scripts."""

    emulator: KubeEmulator

    def create_agent(self, namespace: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "VaultAgent",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }
        result: dict[str, Any] = self.emulator.raw("POST", agents_path(namespace), body)
        return result

    def patch_agent_spec(self, namespace: str, name: str, spec: dict[str, Any]) -> None:
        self.emulator.raw(
            "PATCH",
            agents_path(namespace, name),
            {"spec": spec},
            content_type="application/merge-patch+json",
        )

    def delete_agent(self, namespace: str, name: str) -> None:
        self.emulator.raw("DELETE", agents_path(namespace, name))

    def agent(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._get(agents_path(namespace, name))

    def secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._get(f"/api/v1/namespaces/{namespace}/secrets/{name}")

    def events(self, namespace: str) -> list[dict[str, Any]]:
        listing = self.emulator.raw("GET", f"/api/v1/namespaces/{namespace}/events")
        items: list[dict[str, Any]] = listing.get("items", [])
        return items

    def event_reasons(self, namespace: str, name: str) -> list[str]:
        """Reasons of the Events about one VaultAgent, oldest first."""
        return [
            str(event.get("reason"))
            for event in self.events(namespace)
            if event.get("involvedObject", {}).get("name") == name
        ]

    def _get(self, path: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = self.emulator.raw("GET", path)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise
        return result


def condition(agent: dict[str, Any] | None, kind: str = "Ready") -> dict[str, Any]:
    """The named status condition of a VaultAgent, or {} when it has none (yet)."""
    if agent is None:
        return {}
    for cond in agent.get("status", {}).get("conditions", []) or []:
        if cond.get("type") == kind:
            return dict(cond)
    return {}


def wait_for(
    probe: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.1, what: str = ""
) -> T:
    """Poll until `probe()` returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what or probe}: last={last!r}")


# -- the operator as a child process ----------------------------------------------------------


@dataclass
class OperatorProcess(ManagedProcess):
    """`python -m vault_mcp_operator run --standalone` against an emulator, with a given env."""

    kube: KubeEmulator
    env: dict[str, str]
    args: list[str] = field(default_factory=lambda: ["--all-namespaces"])
    liveness_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    log_file: Path = field(
        default_factory=lambda: Path(tempfile.mkstemp(prefix="operator-", suffix=".log")[1])
    )
    _proc: subprocess.Popen[bytes] | None = None
    stop_timeout: ClassVar[float] = 15.0

    @property
    def liveness_url(self) -> str:
        return f"http://127.0.0.1:{self.liveness_port}/healthz"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def tidy(self) -> None:
        self.log_file.unlink(missing_ok=True)

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "vault_mcp_operator",
            "run",
            "--standalone",
            f"--liveness=http://127.0.0.1:{self.liveness_port}/healthz",
            f"--metrics-port={self.metrics_port}",
            "--metrics-address=127.0.0.1",
            *self.args,
        ]

    def start(self) -> None:
        env = {**_base_env(), **self.env, "KUBECONFIG": str(self.kube.kubeconfig)}
        self._proc = spawn(self.command(), self.log_file, env)
        self._wait_live()

    def logs(self) -> str:
        return self.log_file.read_text(errors="replace")

    def metrics(self) -> str:
        with urllib.request.urlopen(self.metrics_url, timeout=5) as resp:
            text: str = resp.read().decode()
        return text

    def _wait_live(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"operator exited early:\n{self.logs()[-4000:]}")
            with contextlib.suppress(OSError):
                urllib.request.urlopen(self.liveness_url, timeout=1).close()
                return
            time.sleep(0.1)
        raise RuntimeError(f"operator not live within {timeout}s:\n{self.logs()[-4000:]}")


def _base_env() -> dict[str, str]:
    """The caller's environment minus Vault and kube settings that could leak into a test."""
    prefixes = ("VAULT_", "BAO_", "KUBECONFIG", "OPERATOR_", "VAULT_MCP_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
