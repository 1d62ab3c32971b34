"""`vault-mcp-operator inject`: the webhook's mutation on manifests, every output valid."""

from __future__ import annotations

import contextlib
import copy
import io
from pathlib import Path
from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from vault_mcp_operator.cli import main
from vault_mcp_operator.inject_files import pod_template

EXAMPLES = Path(__file__).resolve().parents[3] / "manifests" / "examples"
ANNOTATIONS = {"vaultmcp.dev/inject": "true", "vaultmcp.dev/agent": "alice"}
POD_SPEC = {"containers": [{"name": "app", "image": "app:1"}], "restartPolicy": "Never"}
TEMPLATE = {"metadata": {"labels": {"app": "a"}, "annotations": ANNOTATIONS}, "spec": POD_SPEC}
SELECTOR = {"matchLabels": {"app": "a"}}


def workloads() -> list[dict[str, Any]]:
    meta = {"name": "w", "namespace": "team-a"}
    always = {**TEMPLATE, "spec": {**POD_SPEC, "restartPolicy": "Always"}}
    return [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {**meta, "annotations": ANNOTATIONS},
         "spec": POD_SPEC},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
         "spec": {"selector": SELECTOR, "template": always}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta,
         "spec": {"selector": SELECTOR, "serviceName": "w", "template": always}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta,
         "spec": {"selector": SELECTOR, "template": always}},
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": {"template": TEMPLATE}},
        {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta,
         "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": TEMPLATE}}}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"a": "b"}},
    ]  # fmt: skip


def run(*args: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["inject", *(str(arg) for arg in args)])
    return code, out.getvalue(), err.getvalue()


def validate(text: str) -> list[dict[str, Any]]:
    documents = [doc for doc in yaml.safe_load_all(text) if doc]
    version = kubernetes_validate.latest_version()
    for document in documents:
        kubernetes_validate.validate(document, version, strict=True)
    return documents


def pod_spec_of(document: dict[str, Any]) -> dict[str, Any]:
    kind, spec = document["kind"], document["spec"]
    if kind == "Pod":
        return spec  # type: ignore[no-any-return]
    if kind == "CronJob":
        return spec["jobTemplate"]["spec"]["template"]["spec"]  # type: ignore[no-any-return]
    return spec["template"]["spec"]  # type: ignore[no-any-return]


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "workloads.yaml"
    path.write_text(yaml.safe_dump_all(workloads(), sort_keys=False))
    return path


def test_every_workload_kind_injected_and_valid(manifest: Path) -> None:
    code, out, err = run("-f", manifest, "--agent-file", EXAMPLES / "vaultagent-alice.yaml")
    assert (code, err) == (0, "")
    documents = validate(out)
    assert [d["kind"] for d in documents] == [d["kind"] for d in workloads()]
    for document in documents[:-1]:
        init = pod_spec_of(document)["initContainers"]
        assert [c["name"] for c in init] == ["vault-mcp-sidecar"], document["kind"]
        env = {e["name"]: e["value"] for e in init[0]["env"]}
        assert env["AGENT_ID"] == "team-a.alice"
        assert env["AGENT_SCOPES"] == "read,write,list,delete"
    assert documents[-1] == workloads()[-1]  # not a workload: passed through


def test_twice_changes_nothing(manifest: Path, tmp_path: Path) -> None:
    _, once, _ = run("-f", manifest)
    again = tmp_path / "once.yaml"
    again.write_text(once)
    _, twice, _ = run("-f", again)
    assert twice == once


def test_unannotated_templates_untouched(tmp_path: Path) -> None:
    plain = [{**copy.deepcopy(w), "metadata": {"name": "w"}} for w in workloads()]
    for document in plain:
        template = pod_template(document) or {}
        template.get("metadata", {}).pop("annotations", None)
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump_all(plain, sort_keys=False))
    code, out, _ = run("-f", path)
    assert code == 0
    cronjob = validate(out)[5]
    assert "initContainers" not in pod_spec_of(cronjob)


def test_flags_describe_the_agent(manifest: Path) -> None:
    code, out, _ = run(
        "-f", manifest, "--agent-scopes", "read", "--jwt-issuer", "https://i.example",
        "--jwt-jwks-url", "https://i.example/jwks", "--jwt-subject", "svc",
        "--child-ttl", "30s", "--rate-limit-requests", "5",
    )  # fmt: skip
    assert code == 0
    pod = pod_spec_of(validate(out)[0])
    env = {e["name"]: e["value"] for e in pod["initContainers"][0]["env"]}
    assert env["AGENT_SCOPES"] == "read"
    assert env["AUTH_API_KEY_ENABLED"] == "false"
    assert env["JWT_ALLOWED_SUBJECTS"] == "svc"
    assert (env["CHILD_TOKEN_TTL"], env["RATE_LIMIT_REQUESTS"]) == ("30s", "5")
    assert "vault-mcp-api-keys" not in {v["name"] for v in pod["volumes"]}


def test_flags_default_to_the_agents_api_key_secret(manifest: Path) -> None:
    _, out, _ = run("-f", manifest)
    volumes = {v["name"]: v for v in pod_spec_of(validate(out)[1])["volumes"]}
    assert volumes["vault-mcp-api-keys"]["secret"]["secretName"] == "alice-api-keys"


def test_agent_missing_from_agent_files(manifest: Path, tmp_path: Path) -> None:
    other = tmp_path / "bob.yaml"
    other.write_text(
        "apiVersion: vaultmcp.dev/v1alpha1\nkind: VaultAgent\n"
        "metadata: {name: bob, namespace: team-a}\nspec: {auth: {mtls: {allowedIdentities: [x]}}}\n"
    )
    # an agent not in the files is the one the flags describe; a bad flag is one line
    code, _, err = run("-f", manifest, "--agent-file", other, "--agent-scopes", "root")
    assert code == 2
    assert err.startswith("vault-mcp-operator: inject: spec.scopes[0]:")


def test_agent_without_auth_is_refused(manifest: Path, tmp_path: Path) -> None:
    agent = tmp_path / "alice.yaml"
    agent.write_text(
        "apiVersion: vaultmcp.dev/v1alpha1\nkind: VaultAgent\n"
        "metadata: {name: alice, namespace: team-a}\nspec: {scopes: [read]}\n"
    )
    code, out, err = run("-f", manifest, "--agent-file", agent)
    assert (code, out) == (2, "")
    assert err == (
        "vault-mcp-operator: inject: Pod team-a/w: VaultAgent team-a/alice has no spec.auth: "
        "callers could not authenticate\n"
    )


def test_example_deployment(tmp_path: Path) -> None:
    code, out, _ = run(
        "-f", EXAMPLES / "agent-deployment.yaml", "--agent-file", EXAMPLES / "vaultagent-alice.yaml"
    )
    assert code == 0
    deployment = validate(out)[1]
    names = [c["name"] for c in pod_spec_of(deployment)["initContainers"]]
    assert names == ["vault-mcp-sidecar"]


@pytest.mark.parametrize("name", ["alice-api-keys.yaml", "agent-deployment.yaml"])
def test_examples_valid(name: str) -> None:
    validate((EXAMPLES / name).read_text())
