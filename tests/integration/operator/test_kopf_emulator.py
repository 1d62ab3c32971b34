"""devkit's Kubernetes API emulator behaves as kube-apiserver where kopf and the operator
depend on it; if one of these breaks, the kopf tests would pass or fail for the wrong reason."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from devkit.kube import Kube, KubeEmulator, agents_path, wait_for

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


@pytest.fixture(scope="module")
def emulator() -> Iterator[KubeEmulator]:
    with KubeEmulator() as server:
        yield server


def patch(emulator: KubeEmulator, path: str, body: Any, kind: str = MERGE) -> dict[str, Any]:
    result: dict[str, Any] = emulator.raw("PATCH", path, body, content_type=kind)
    return result


def version(obj: dict[str, Any]) -> int:
    return int(obj["metadata"]["resourceVersion"])


def test_writes_get_new_versions_and_generation_follows_the_spec(emulator: KubeEmulator) -> None:
    created = Kube(emulator).create_agent("v", "a", {"scopes": ["read"]})
    meta = created["metadata"]
    assert meta["generation"] == 1
    assert meta["uid"]
    assert meta["creationTimestamp"].endswith("Z")

    path = agents_path("v", "a")
    labelled = patch(emulator, path, {"metadata": {"labels": {"x": "y"}}})
    assert version(labelled) > version(created)
    assert labelled["metadata"]["generation"] == 1  # metadata only: same generation
    respecced = patch(emulator, path, {"spec": {"scopes": ["read", "write"]}})
    assert respecced["metadata"]["generation"] == 2


def test_a_patch_that_changes_nothing_keeps_the_version(emulator: KubeEmulator) -> None:
    created = Kube(emulator).create_agent("v", "b", {})
    same = patch(emulator, agents_path("v", "b"), {"metadata": {"annotations": {"gone": None}}})
    assert version(same) == version(created)


def test_json_patch_with_a_stale_version_is_422(emulator: KubeEmulator) -> None:
    created = Kube(emulator).create_agent("v", "c", {})
    path = agents_path("v", "c")
    patch(emulator, path, {"metadata": {"labels": {"bump": "1"}}})
    stale = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": str(version(created))},
        {"op": "add", "path": "/metadata/finalizers", "value": ["f"]},
    ]
    with pytest.raises(urllib.error.HTTPError) as error:
        patch(emulator, path, stale, JSON_PATCH)
    assert error.value.code == 422


def test_status_subresource_and_main_resource_keep_to_their_parts(
    emulator: KubeEmulator,
) -> None:
    Kube(emulator).create_agent("v", "d", {"scopes": ["read"]})
    path = agents_path("v", "d")
    patch(emulator, f"{path}/status", {"status": {"a": 1}, "spec": {"scopes": ["write"]}})
    patch(emulator, path, {"status": {"a": 2}})
    agent = Kube(emulator).agent("v", "d")
    assert agent is not None
    assert agent["status"] == {"a": 1}
    assert agent["spec"] == {"scopes": ["read"]}


def test_generate_name(emulator: KubeEmulator) -> None:
    body = {"metadata": {"generateName": "ev-"}, "reason": "R"}
    names = {emulator.raw("POST", "/api/v1/namespaces/v/events", body)["metadata"]["name"]}
    names.add(emulator.raw("POST", "/api/v1/namespaces/v/events", body)["metadata"]["name"])
    assert len(names) == 2
    assert all(name.startswith("ev-") for name in names)


def test_delete_with_finalizers_marks_then_removes(emulator: KubeEmulator) -> None:
    kube = Kube(emulator)
    kube.create_agent("v", "e", {})
    path = agents_path("v", "e")
    patch(emulator, path, {"metadata": {"finalizers": ["f"]}})
    kube.delete_agent("v", "e")
    marked = kube.agent("v", "e")
    assert marked is not None
    assert marked["metadata"]["deletionTimestamp"]
    patch(emulator, path, {"metadata": {"finalizers": None}})
    assert kube.agent("v", "e") is None


def test_watch_from_a_listing_misses_nothing_and_repeats_nothing(
    emulator: KubeEmulator,
) -> None:
    kube = Kube(emulator)
    kube.create_agent("w", "before", {})
    listing = emulator.raw("GET", agents_path("w"))
    since = listing["metadata"]["resourceVersion"]
    kube.create_agent("w", "between", {})  # after the listing, before the watch

    seen: list[str] = []
    stop = threading.Event()
    url = f"{emulator.url}{agents_path('w')}?watch=true&resourceVersion={since}"

    def watch() -> None:
        with urllib.request.urlopen(url, timeout=10) as stream:  # noqa: S310 - http to loopback
            for line in stream:
                if line.strip():
                    seen.append(json.loads(line)["object"]["metadata"]["name"])
                if stop.is_set():
                    return

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    wait_for(lambda: "between" in seen, timeout=5, what="the change made before the watch")
    kube.create_agent("w", "after", {})
    wait_for(lambda: "after" in seen, timeout=5, what="the change made during the watch")
    assert seen == ["between", "after"]
    stop.set()
    kube.create_agent("w", "wake", {})  # one more line, so the reader sees `stop` and hangs up
    thread.join(timeout=5)


def test_namespaces_are_listed_once_something_lives_in_them(emulator: KubeEmulator) -> None:
    Kube(emulator).create_agent("listed-ns", "x", {})
    listing = emulator.raw("GET", "/api/v1/namespaces")
    assert "listed-ns" in [item["metadata"]["name"] for item in listing["items"]]
