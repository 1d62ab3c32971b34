"""The sidecar-injecting admission webhook, over HTTPS, served by the real operator process.

The operator runs with WEBHOOK_ENABLED against the KMock emulator and a real OpenBao and
provisions the agents; each test sends an AdmissionReview for a pod, as the API server would,
and applies the returned JSONPatch. A second operator, configured fail-open and watching a
namespace nobody uses, shows the fail-open answers.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jsonpatch
import pytest

from devkit.certs import Pki, make_pki
from devkit.kube import KubeEmulator, OperatorProcess, agents_path, wait_for
from devkit.openbao import OpenBao
from devkit.ports import free_port
from tests.integration.operator.kopf_support import (
    Cluster,
    operator_env,
    prepare_vault,
)
from tests.parts import require_bao
from vault_mcp_operator.config import OperatorSettings
from vault_mcp_operator.injection import SidecarSettings, plan_injection

API_KEYS = {"apiKeys": {"secretRef": {"name": "alice-api-keys"}}}


@dataclass
class Webhook:
    url: str
    context: ssl.SSLContext

    def review(self, namespace: str, pod: dict[str, Any]) -> dict[str, Any]:
        """The AdmissionReview `response` for creating `pod` in `namespace`."""
        uid = str(uuid.uuid4())
        review = {
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": uid,
                "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"},
                "namespace": namespace,
                "operation": "CREATE",
                "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
                "object": pod,
                "dryRun": False,
            },
        }
        request = urllib.request.Request(  # noqa: S310 - an https:// URL of the test's own
            self.url,
            data=json.dumps(review).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, context=self.context, timeout=30) as resp:  # noqa: S310
            answer: dict[str, Any] = json.load(resp)
        assert answer["kind"] == "AdmissionReview"
        assert answer["response"]["uid"] == uid
        return dict(answer["response"])


@dataclass
class Setup:
    cluster: Cluster
    webhook: Webhook
    fail_open: Webhook


def _webhook_env(pki: Pki, port: int, **extra: str) -> dict[str, str]:
    return {
        "WEBHOOK_ENABLED": "true",
        "WEBHOOK_PORT": str(port),
        "WEBHOOK_CERT_FILE": str(pki.server_cert),
        "WEBHOOK_KEY_FILE": str(pki.server_key),
        "SIDECAR_VAULT_ADDR": "http://vault.vault.svc:8200",
        **extra,
    }


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    require_bao()
    pki = make_pki(tmp_path_factory.mktemp("webhook-pki"))
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    port, open_port = free_port(), free_port()
    with OpenBao() as bao, KubeEmulator() as emulator:
        env = operator_env(bao, prepare_vault(bao))
        strict = OperatorProcess(emulator, {**env, **_webhook_env(pki, port)})
        lenient = OperatorProcess(
            emulator,
            {**env, **_webhook_env(pki, open_port, WEBHOOK_FAIL_OPEN="true")},
            args=["--namespace", "nobody-uses-this"],
        )
        with strict as operator, lenient:
            yield Setup(
                Cluster(bao, emulator, operator),
                Webhook(f"https://127.0.0.1:{port}/inject-sidecar", context),
                Webhook(f"https://127.0.0.1:{open_port}/inject-sidecar", context),
            )


def pod(agent: str | None = "alice", inject: str = "true", **spec: Any) -> dict[str, Any]:
    annotations = {"vaultmcp.dev/inject": inject}
    if agent is not None:
        annotations["vaultmcp.dev/agent"] = agent
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        # no namespace: a ReplicaSet's pods arrive so; the review's namespace is used
        "metadata": {"generateName": "app-", "annotations": annotations},
        "spec": {"containers": [{"name": "app", "image": "app:1"}], **spec},
    }


def patched(response: dict[str, Any], original: dict[str, Any]) -> dict[str, Any]:
    assert response["allowed"] is True
    assert response["patchType"] == "JSONPatch"
    operations = json.loads(base64.b64decode(response["patch"]))
    result: dict[str, Any] = jsonpatch.apply_patch(original, operations)
    return result


def test_pod_gets_the_sidecar(setup: Setup, ns: str) -> None:
    setup.cluster.kube.create_agent(ns, "alice", {"scopes": ["read", "write"], "auth": API_KEYS})
    agent = setup.cluster.ready(ns, "alice")
    original = pod(volumes=[{"name": "data", "emptyDir": {}}])
    result = patched(setup.webhook.review(ns, original), original)
    settings = OperatorSettings(vault_addr="http://vault.vault.svc:8200")
    expected = plan_injection(
        original["metadata"], original["spec"], ns, agent, SidecarSettings.from_settings(settings)
    )
    assert result == {**original, "spec": expected}
    sidecar = result["spec"]["initContainers"][0]
    env = {e["name"]: e["value"] for e in sidecar["env"]}
    assert (sidecar["name"], sidecar["restartPolicy"]) == ("vault-mcp-sidecar", "Always")
    assert env["AGENT_ID"] == f"{ns}.alice"
    assert env["VAULT_ADDR"] == "http://vault.vault.svc:8200"
    volumes = {v["name"]: v for v in result["spec"]["volumes"]}
    assert volumes["vault-mcp-approle"]["secret"]["secretName"] == "alice-vault-approle"
    assert "data" in volumes


def test_already_injected_is_left_alone(setup: Setup, ns: str) -> None:
    setup.cluster.kube.create_agent(ns, "alice", {"auth": API_KEYS})
    setup.cluster.ready(ns, "alice")
    original = pod()
    once = patched(setup.webhook.review(ns, original), original)
    again = setup.webhook.review(ns, once)
    assert again["allowed"] is True
    assert "patch" not in again


def test_pods_not_asking_pass_unmutated(setup: Setup, ns: str) -> None:
    for original in (pod(inject="false"), {**pod(), "metadata": {"name": "plain"}}):
        response = setup.webhook.review(ns, original)
        assert response["allowed"] is True
        assert "patch" not in response


def test_unknown_agent_denied(setup: Setup, ns: str) -> None:
    response = setup.webhook.review(ns, pod(agent="nobody"))
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    assert response["status"]["message"] == f"VaultAgent {ns}/nobody not found"


def test_missing_agent_annotation_denied(setup: Setup, ns: str) -> None:
    response = setup.webhook.review(ns, pod(agent=None))
    assert response["allowed"] is False
    assert "needs a vaultmcp.dev/agent annotation" in response["status"]["message"]


def test_not_ready_agent_denied(setup: Setup, ns: str) -> None:
    setup.cluster.kube.create_agent(ns, "broken", {"scopes": ["root"], "auth": API_KEYS})
    reason = setup.cluster.not_ready(ns, "broken", "InvalidSpec")
    response = setup.webhook.review(ns, pod(agent="broken"))
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    assert response["status"]["message"] == f"VaultAgent {ns}/broken is not Ready: {reason}"


def test_agent_without_auth_denied(setup: Setup, ns: str) -> None:
    setup.cluster.kube.create_agent(ns, "mute", {"scopes": ["read"]})
    setup.cluster.ready(ns, "mute")
    response = setup.webhook.review(ns, pod(agent="mute"))
    assert response["allowed"] is False
    assert response["status"]["message"] == (
        f"VaultAgent {ns}/mute has no spec.auth: callers could not authenticate"
    )


def test_fail_open_admits_unmutated_with_a_warning(setup: Setup, ns: str) -> None:
    response = setup.fail_open.review(ns, pod(agent="nobody"))
    assert response["allowed"] is True
    assert "patch" not in response
    assert response["warnings"] == [
        f"vault-mcp-sidecar not injected: VaultAgent {ns}/nobody not found"
    ]


def test_fail_open_still_injects_for_a_ready_agent(setup: Setup, ns: str) -> None:
    setup.cluster.kube.create_agent(ns, "alice", {"auth": API_KEYS})
    setup.cluster.ready(ns, "alice")
    original = pod()
    result, gets = _review_counting_gets(setup, setup.fail_open, ns, original, "alice")
    assert patched(result, original)["spec"]["initContainers"][0]["name"] == "vault-mcp-sidecar"
    # This operator watches another namespace, so its index has no alice: the API server
    # is asked instead, and the answer is the same.
    assert gets == 1


def test_a_ready_agent_is_served_from_the_index_without_an_api_request(
    setup: Setup, ns: str
) -> None:
    setup.cluster.kube.create_agent(ns, "alice", {"auth": API_KEYS})
    setup.cluster.ready(ns, "alice")
    original = pod()

    def served_from_index() -> bool | None:
        # The index follows the watch, so right after Ready it may still hold the agent as
        # not Ready; then the webhook asks the API server (and still injects).
        response, gets = _review_counting_gets(setup, setup.webhook, ns, original, "alice")
        assert patched(response, original)["spec"]["initContainers"], response
        return gets == 0 or None

    wait_for(served_from_index, timeout=10, what="an admission answered from the index")


def _review_counting_gets(
    setup: Setup, webhook: Webhook, ns: str, original: dict[str, Any], agent: str
) -> tuple[dict[str, Any], int]:
    """The review's response, and how many GETs of the VaultAgent it cost the API server."""
    emulator = setup.cluster.emulator
    before = len(emulator.requests_seen())
    response = webhook.review(ns, original)
    path = agents_path(ns, agent)
    gets = [seen for seen in emulator.requests_seen()[before:] if seen == ("GET", path)]
    return response, len(gets)


def test_plain_http_is_refused(setup: Setup) -> None:
    url = setup.webhook.url.replace("https://", "http://")
    with pytest.raises(OSError):  # noqa: PT011 - a TLS server closes a plain-HTTP connection
        urllib.request.urlopen(url, data=b"{}", timeout=10).close()  # noqa: S310
