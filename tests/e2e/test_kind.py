"""End to end on kind: OpenBao in the cluster, the images, the Helm chart, two agents and their
annotated Deployments; an app reaches its injected sidecar by REST and MCP, never another
agent's data, and loses access when its VaultAgent goes. `make e2e`; not part of `make test`.

Needs Docker (a running engine), kind and kubectl; without them the module is skipped and says
which is missing. KIND_CLUSTER names the cluster (created if absent, deleted afterwards only if
this run created it; KEEP_CLUSTER=1 keeps it), OPERATOR_IMAGE and SIDECAR_IMAGE the image tags.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml


def _missing() -> str | None:
    for tool in ("docker", "kind", "kubectl"):
        if shutil.which(tool) is None:
            return f"{tool} not found on PATH: the kind e2e tests need Docker, kind and kubectl"
    docker = subprocess.run(["docker", "info"], capture_output=True, check=False)
    if docker.returncode != 0:
        return "no Docker engine answers `docker info`: the kind e2e tests need one"
    return None


if (_reason := _missing()) is not None:
    pytest.skip(_reason, allow_module_level=True)

import helm_python as helm  # noqa: E402 - only once the module is known to run

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CHART = ROOT / "charts" / "vault-mcp-bridge"
CLUSTER = os.environ.get("KIND_CLUSTER", "vault-mcp-e2e")
CONTEXT = f"kind-{CLUSTER}"
OPERATOR_IMAGE = os.environ.get("OPERATOR_IMAGE", "vault-mcp-operator:0.1.0")
SIDECAR_IMAGE = os.environ.get("SIDECAR_IMAGE", "vault-mcp-sidecar:0.1.0")
RELEASE = "vault-mcp-bridge"
SYSTEM_NS = "vault-mcp-system"
NS = "e2e"
SIDECAR = "vault-mcp-sidecar"
VAULT_ADDR = "http://openbao.openbao.svc:8200"
ALICE_KEY = "alice-e2e-key-0123456789abcdef"  # workloads.yaml


def run(*args: str, stdin: str | None = None, check: bool = True) -> str:
    done = subprocess.run(
        args, input=stdin, capture_output=True, text=True, check=False, timeout=900
    )
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} -> {done.returncode}\n{done.stderr[-2000:]}")
    return done.stdout


def kubectl(*args: str, stdin: str | None = None, check: bool = True) -> str:
    return run("kubectl", "--context", CONTEXT, *args, stdin=stdin, check=check)


def eventually(probe: Callable[[], Any], accept: Callable[[Any], bool], seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = probe()
        if accept(value) or time.monotonic() > deadline:
            return value
        time.sleep(2)


def in_pod(deployment: str, container: str, *args: str, env: str | None = None) -> Any:
    """Run in_pod.py in a container of the deployment's pod; its one JSON line."""
    command = ["python", "-", *args] if env is None else ["env", env, "python", "-", *args]
    out = kubectl(
        "exec",
        "-i",
        "-n",
        NS,
        f"deploy/{deployment}",
        "-c",
        container,
        "--",
        *command,
        stdin=(HERE / "in_pod.py").read_text(),
    )
    return json.loads(out.strip().splitlines()[-1])


# -- Fixtures: cluster, images, OpenBao, chart, workloads -------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    existing = run("kind", "get", "clusters").split()
    created = CLUSTER not in existing
    if created:
        run(
            "kind",
            "create",
            "cluster",
            "--name",
            CLUSTER,
            "--config",
            str(HERE / "kind-config.yaml"),
            "--wait",
            "180s",
        )
    yield CLUSTER
    if created and os.environ.get("KEEP_CLUSTER") != "1":
        run("kind", "delete", "cluster", "--name", CLUSTER, check=False)


@pytest.fixture(scope="module")
def images(cluster: str) -> None:
    run("docker", "build", "-f", "operator/Dockerfile", "-t", OPERATOR_IMAGE, str(ROOT))
    run("docker", "build", "-f", "sidecar/Dockerfile", "-t", SIDECAR_IMAGE, str(ROOT))
    run("kind", "load", "docker-image", "--name", cluster, OPERATOR_IMAGE, SIDECAR_IMAGE)


@pytest.fixture(scope="module")
def openbao(cluster: str) -> None:
    kubectl("apply", "-f", str(HERE / "openbao.yaml"))
    kubectl("-n", "openbao", "rollout", "status", "deploy/openbao", "--timeout=180s")
    # What an administrator enables once (operator-policy.hcl); dev mode mounts KV v2 at secret/.
    for command in (["auth", "enable", "approle"], ["secrets", "enable", "transit"]):
        kubectl("-n", "openbao", "exec", "deploy/openbao", "--", "bao", *command)


def _image_values(image: str) -> dict[str, str]:
    repository, _, tag = image.rpartition(":")
    return {"repository": repository, "tag": tag, "pullPolicy": "IfNotPresent"}


@pytest.fixture(scope="module")
def release(cluster: str, images: None, openbao: None, tmp_path_factory: Any) -> Iterator[None]:
    kubeconfig = tmp_path_factory.mktemp("kube") / "config"
    kubeconfig.write_text(run("kind", "get", "kubeconfig", "--name", cluster))
    kubectl("create", "namespace", SYSTEM_NS, check=False)
    # The operator logs in with the dev server's root token: an e2e shortcut, not a setup.
    token_secret = kubectl(
        "-n",
        SYSTEM_NS,
        "create",
        "secret",
        "generic",
        "operator-vault-token",
        "--from-literal=token=root",
        "--dry-run=client",
        "-o",
        "yaml",
    )
    kubectl("apply", "-f", "-", stdin=token_secret)
    values = {
        "operator": {"image": _image_values(OPERATOR_IMAGE), "logLevel": "verbose"},
        "sidecar": {"image": _image_values(SIDECAR_IMAGE)},
        "vault": {
            "address": VAULT_ADDR,
            "auth": {"method": "token", "token": {"secretName": "operator-vault-token"}},
        },
    }
    config = helm.Config(kubeconfig_path=kubeconfig, namespace=SYSTEM_NS)
    try:
        config.install(CHART, RELEASE, values, namespace=SYSTEM_NS, wait="watcher", timeout=300)
        kubectl("-n", SYSTEM_NS, "rollout", "status", f"deploy/{RELEASE}", "--timeout=180s")
        yield
    finally:
        logs = kubectl("-n", SYSTEM_NS, "logs", f"deploy/{RELEASE}", "--tail=200", check=False)
        print(logs)  # shown by pytest when a test failed
        try:
            config.uninstall(RELEASE, ignore_not_found=True, wait="watcher", timeout=120)
        except helm.HelmError as exc:  # the install itself failed: nothing to remove
            print(f"uninstall: {exc}")
        config.close()


@pytest.fixture(scope="module")
def workloads(release: None) -> Iterator[None]:
    text = (HERE / "workloads.yaml").read_text().replace("${SIDECAR_IMAGE}", SIDECAR_IMAGE)
    docs = [doc for doc in yaml.safe_load_all(text) if doc]
    first = [doc for doc in docs if doc["kind"] != "Deployment"]
    apps = [doc for doc in docs if doc["kind"] == "Deployment"]
    # Agents first: a pod naming an agent that is not Ready yet is refused (failOpen false).
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(first))
    kubectl(
        "-n",
        NS,
        "wait",
        "--for=condition=Ready",
        "vaultagent/alice",
        "vaultagent/bob",
        "--timeout=180s",
    )
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(apps))
    for app in apps:
        kubectl(
            "-n", NS, "rollout", "status", f"deploy/{app['metadata']['name']}", "--timeout=180s"
        )
    yield
    # While the operator still runs: it removes the agents from Vault and their finalizers.
    kubectl("delete", "namespace", NS, "--timeout=180s", check=False)


# -- Tests, in order: the last one deletes alice ------------------------------------------------


def pod_of(app: str) -> dict[str, Any]:
    pods = json.loads(kubectl("-n", NS, "get", "pods", "-l", f"app={app}", "-o", "json"))
    (pod,) = [p for p in pods["items"] if not p["metadata"].get("deletionTimestamp")]
    return pod  # type: ignore[no-any-return]


def test_agents_are_ready(workloads: None) -> None:
    for name in ("alice", "bob"):
        agent = json.loads(kubectl("-n", NS, "get", "vaultagent", name, "-o", "json"))
        ready = [c for c in agent["status"]["conditions"] if c["type"] == "Ready"]
        assert ready[0]["status"] == "True", ready
        assert agent["status"]["agentId"] == f"{NS}.{name}"


def test_sidecar_is_injected_and_ready(workloads: None) -> None:
    pod = pod_of("alice-app")
    (sidecar,) = [c for c in pod["spec"]["initContainers"] if c["name"] == SIDECAR]
    assert sidecar["restartPolicy"] == "Always"  # a native sidecar
    assert sidecar["image"] == SIDECAR_IMAGE
    statuses = {s["name"]: s for s in pod["status"]["initContainerStatuses"]}
    assert statuses[SIDECAR]["ready"] is True
    assert all(s["ready"] for s in pod["status"]["containerStatuses"])


def test_app_reaches_its_sidecar_by_rest(workloads: None) -> None:
    body = json.dumps({"data": {"msg": "hello from alice"}})
    written = in_pod("alice-app", "app", "rest", "PUT", "/secrets/greeting", body)
    assert written["status"] == 200, written
    read = in_pod("alice-app", "app", "rest", "GET", "/secrets/greeting")
    assert (read["status"], read["body"]["data"]) == (200, {"msg": "hello from alice"})
    wrong = in_pod(
        "alice-app", "app", "rest", "GET", "/secrets/greeting", env="VAULT_MCP_API_KEY=nope-nope"
    )
    assert wrong["status"] == 401


def test_app_reaches_its_sidecar_by_mcp(workloads: None) -> None:
    result = in_pod("alice-app", "app", "mcp", "read_secret", json.dumps({"path": "greeting"}))
    assert "error" not in result, result
    assert "read_secret" in result["tools"]
    assert result["isError"] is False, result
    assert "hello from alice" in result["text"]


def test_another_agents_data_is_unreachable(workloads: None) -> None:
    # Alice's key means nothing to bob's sidecar.
    foreign = in_pod(
        "bob-app", "app", "rest", "GET", "/secrets/greeting", env=f"VAULT_MCP_API_KEY={ALICE_KEY}"
    )
    assert foreign["status"] == 401
    # Bob's paths are his own folder: alice's secret is not there.
    assert in_pod("bob-app", "app", "rest", "GET", "/secrets/greeting")["status"] == 404
    # And bob's own Vault identity (the AppRole mounted into his sidecar) cannot read alice's data.
    direct = in_pod("bob-app", SIDECAR, "vault-read", f"secret/data/mcp/{NS}.alice/greeting")
    assert direct == {"login": 200, "read": 403}


def test_deleting_the_agent_ends_its_access(workloads: None) -> None:
    kubectl("-n", NS, "delete", "vaultagent", "alice", "--timeout=180s")
    login = eventually(
        lambda: in_pod("alice-app", SIDECAR, "vault-read", f"secret/data/mcp/{NS}.alice/x"),
        lambda result: result.get("login") != 200,
        120,
    )
    assert login.get("login") != 200, login
    # The sidecar's cached child token is short-lived (childTTL 30s); then nothing is served.
    last = eventually(
        lambda: in_pod("alice-app", "app", "rest", "GET", "/secrets/greeting"),
        lambda result: result["status"] != 200,
        120,
    )
    # 401/403/503 from a sidecar that can no longer log in, or no answer at all (None) once the
    # sidecar itself gives up.
    assert last["status"] in {None, 401, 403, 503}, last
