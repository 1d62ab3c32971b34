"""The Helm chart, linted and rendered by Helm's own Go SDK; every object checked against the
Kubernetes schemas (kubernetes-validate, strict). No cluster: tests/e2e installs it for real."""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import Mapping
from typing import Any

import helm_python as helm
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml
from cryptography import x509

from tests.chart import chartkit
from tests.chart.chartkit import CHART_DIR, NAMESPACE, objects, render

K8S_VERSION = kubernetes_validate.latest_version()
CERT_MANAGER = "cert-manager.io/v1"  # not a built-in API: checked field by field below
SHARED_LABELS = (
    "helm.sh/chart",
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/part-of",
)
RBAC_KINDS = {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}

SCENARIOS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "cert-manager": {"webhook": {"tls": {"mode": "certManager"}}},
    "cert-manager-issuer": {
        "webhook": {
            "tls": {
                "mode": "certManager",
                "certManager": {"issuerRef": {"name": "corp-ca", "kind": "ClusterIssuer"}},
            }
        }
    },
    "no-rbac": {"rbac": {"create": False}, "serviceAccount": {"create": False, "name": "ops"}},
    "namespaced": {"operator": {"allNamespaces": False, "namespaces": ["team-a", "team-b"]}},
    "webhook-off": {"webhook": {"enabled": False}, "metrics": {"enabled": False}},
    "approle-ca": {
        "vault": {
            "address": "https://vault.example:8200",
            "ca": {"secretName": "vault-ca"},
            "auth": {"method": "approle", "approle": {"secretName": "operator-approle"}},
        }
    },
    "token-peering": {
        "vault": {"auth": {"method": "token", "token": {"secretName": "operator-token"}}},
        "operator": {"peering": {"enabled": True}, "replicas": 2, "logLevel": "debug"},
        "webhook": {
            "failurePolicy": "Ignore",
            "timeoutSeconds": 10,
            "objectSelector": {"matchLabels": {"ai-agent": "yes"}},
        },
    },
}


def by_kind(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objs if obj["kind"] == kind]


def one(objs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = by_kind(objs, kind)
    return found


def container(objs: list[dict[str, Any]]) -> dict[str, Any]:
    (operator,) = one(objs, "Deployment")["spec"]["template"]["spec"]["containers"]
    return operator  # type: ignore[no-any-return]


def env(objs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        item["name"]: item.get("value", item.get("valueFrom")) for item in container(objs)["env"]
    }


@pytest.fixture(scope="module")
def renders() -> dict[str, list[dict[str, Any]]]:
    return {name: objects(render(values)) for name, values in SCENARIOS.items()}


# -- Lint, schema, names ---------------------------------------------------------------------


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_lint_strict_finds_nothing(scenario: str) -> None:
    report = helm.lint(CHART_DIR, SCENARIOS[scenario], strict=True, namespace=NAMESPACE)
    # Severity 1 is "info" (e.g. "icon is recommended"); warnings and errors fail.
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert (problems, report["errors"]) == ([], [])


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_object_is_valid_kubernetes(
    renders: dict[str, list[dict[str, Any]]], scenario: str
) -> None:
    for obj in renders[scenario]:
        if obj["apiVersion"] == CERT_MANAGER:
            assert obj["kind"] in {"Issuer", "Certificate"}
            continue
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_crd_is_valid_kubernetes() -> None:
    crds = chartkit.crd_documents()
    # Not vacuous: an empty or moved crds/ would otherwise validate nothing and pass.
    assert [crd["metadata"]["name"] for crd in crds] == ["vaultagents.vaultmcp.dev"]
    for crd in crds:
        kubernetes_validate.validate(crd, K8S_VERSION, strict=True)


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_object_carries_the_shared_labels(
    renders: dict[str, list[dict[str, Any]]], scenario: str
) -> None:
    for obj in renders[scenario]:
        labels = obj["metadata"]["labels"]
        assert all(key in labels for key in SHARED_LABELS), obj["kind"]
        assert labels["app.kubernetes.io/instance"] == chartkit.RELEASE


def test_names_fit_63_characters_and_keep_their_suffix() -> None:
    long_name = "x" * 50
    rendered = helm.Chart.load(CHART_DIR)
    try:
        out = rendered.render(None, name=long_name, namespace=NAMESPACE, is_install=True)
    finally:
        rendered.close()
    objs = objects(out)
    assert all(len(obj["metadata"]["name"]) <= 63 for obj in objs)
    assert one(objs, "Service")["metadata"]["name"].endswith("-webhook")
    assert one(objs, "Secret")["metadata"]["name"].endswith("-webhook-tls")


def test_schema_closes_every_object() -> None:
    schema = helm.Chart.load(CHART_DIR)
    try:
        tree = schema.schema
    finally:
        schema.close()
    assert tree is not None

    def walk(node: Mapping[str, Any], where: str) -> None:
        if "properties" in node:
            assert node.get("additionalProperties") is False, where
            for key, child in node["properties"].items():
                walk(child, f"{where}.{key}")
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), Mapping):
                walk(node[key], f"{where}[]")
        for child in node.get("anyOf", []):
            walk(child, where)

    walk(tree, "values")


def test_every_value_is_documented_by_a_comment_above_it() -> None:
    lines = (CHART_DIR / "values.yaml").read_text().splitlines()
    key = re.compile(r"^\s*[A-Za-z][A-Za-z0-9]*:")
    undocumented = [
        line.strip()
        for before, line in itertools.pairwise(lines)
        if key.match(line) and not before.strip().startswith("#")
    ]
    assert undocumented == []


def test_every_documented_value_is_in_the_schema() -> None:
    values = yaml.safe_load((CHART_DIR / "values.yaml").read_text())
    with chartkit.loaded_chart() as chart:
        chart.validate_schema(values)
        assert chart.values == values


BAD_VALUES: dict[str, dict[str, Any]] = {
    "unknown top-level key": {"replicaCount": 2},
    "unknown nested key": {"webhook": {"tls": {"caBundle": "x"}}},
    "bad failurePolicy": {"webhook": {"failurePolicy": "Retry"}},
    "timeout too long": {"webhook": {"timeoutSeconds": 60}},
    "timeout as string": {"webhook": {"timeoutSeconds": "5"}},
    "enabled as string": {"webhook": {"enabled": "yes"}},
    "port out of range": {"webhook": {"port": 70000}},
    "bad tls mode": {"webhook": {"tls": {"mode": "vault"}}},
    "bad auth method": {"vault": {"auth": {"method": "userpass"}}},
    "address not a URL": {"vault": {"address": "vault:8200"}},
    "namespaces not a list": {"operator": {"namespaces": "team-a"}},
    "namespace glob": {"operator": {"allNamespaces": False, "namespaces": ["team-*"]}},
    "bad pull policy": {"sidecar": {"image": {"pullPolicy": "Sometimes"}}},
    "bad cpu quantity": {"sidecar": {"resources": {"limits": {"cpu": "lots"}}}},
    "unknown resource": {"operator": {"resources": {"requests": {"gpu": 1}}}},
    "bad selector operator": {
        "webhook": {"objectSelector": {"matchExpressions": [{"key": "a", "operator": "Is"}]}}
    },
}


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_schema_refuses_bad_values(case: str) -> None:
    with pytest.raises(helm.HelmError):
        render(BAD_VALUES[case])


TEMPLATE_REFUSALS: dict[str, tuple[dict[str, Any], str]] = {
    "namespaced without namespaces": (
        {"operator": {"allNamespaces": False}},
        "operator.namespaces",
    ),
    "replicas without peering": ({"operator": {"replicas": 2}}, "peering"),
    "token auth without a Secret": (
        {"vault": {"auth": {"method": "token"}}},
        "vault.auth.token.secretName",
    ),
    "approle auth without a Secret": (
        {"vault": {"auth": {"method": "approle"}}},
        "vault.auth.approle.secretName",
    ),
}


@pytest.mark.parametrize("case", sorted(TEMPLATE_REFUSALS))
def test_render_refuses_what_cannot_work(case: str) -> None:
    values, message = TEMPLATE_REFUSALS[case]
    with pytest.raises(helm.HelmError, match=re.escape(message)):
        render(values)


# -- The operator Deployment -----------------------------------------------------------------


def test_operator_runs_hardened(renders: dict[str, list[dict[str, Any]]]) -> None:
    pod = one(renders["defaults"], "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = container(renders["defaults"])["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    operator = container(renders["defaults"])
    assert operator["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert operator["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert set(operator["resources"]) == {"requests", "limits"}


def test_operator_command_line(renders: dict[str, list[dict[str, Any]]]) -> None:
    assert container(renders["defaults"])["command"] == ["vault-mcp-operator"]
    assert container(renders["defaults"])["args"] == [
        "run",
        "--all-namespaces",
        "--standalone",
        "--liveness=http://0.0.0.0:8080/healthz",
        "--metrics-port=9090",
    ]
    namespaced = container(renders["namespaced"])["args"]
    assert "--all-namespaces" not in namespaced
    assert namespaced[1:3] == ["--namespace=team-a", "--namespace=team-b"]
    peering = container(renders["token-peering"])["args"]
    assert "--peering=vault-mcp-bridge" in peering
    assert "--debug" in peering


def test_the_console_script_accepts_the_rendered_arguments(
    renders: dict[str, list[dict[str, Any]]],
) -> None:
    from vault_mcp_operator.run import _parser  # the real parser; nothing runs

    for scenario in SCENARIOS:
        _parser().parse_args(container(renders[scenario])["args"][1:])


def test_operator_env_for_each_vault_login(renders: dict[str, list[dict[str, Any]]]) -> None:
    defaults = env(renders["defaults"])
    assert defaults["VAULT_AUTH_METHOD"] == "kubernetes"
    assert defaults["VAULT_K8S_ROLE"] == "vault-mcp-operator"
    assert "VAULT_CACERT" not in defaults
    approle = env(renders["approle-ca"])
    assert approle["VAULT_CACERT"] == "/etc/vault/ca/ca.crt"
    assert approle["VAULT_ROLE_ID_FILE"] == "/etc/vault/approle/role_id"
    assert approle["VAULT_SECRET_ID_FILE"] == "/etc/vault/approle/secret_id"
    mounts = {m["mountPath"] for m in container(renders["approle-ca"])["volumeMounts"]}
    assert {"/etc/vault/ca", "/etc/vault/approle", "/etc/webhook/tls", "/tmp"} <= mounts
    token = env(renders["token-peering"])
    assert token["VAULT_TOKEN"] == {"secretKeyRef": {"name": "operator-token", "key": "token"}}


def test_operator_env_matches_the_operator_settings(
    renders: dict[str, list[dict[str, Any]]],
) -> None:
    from vault_mcp_operator.config import OperatorSettings
    from vault_mcp_operator.handlers import HandlerOptions

    known = {name.upper() for name in OperatorSettings.model_fields}
    known |= {name.upper() for name in HandlerOptions.model_fields}
    chart_env = set(env(renders["defaults"])) | set(env(renders["approle-ca"]))
    chart_env |= set(env(renders["token-peering"]))
    # Settings the webhook work adds arrive with it; until then the chart may be ahead.
    webhook = {name for name in chart_env if name.startswith(("SIDECAR_", "WEBHOOK_"))}
    assert chart_env - webhook <= known


def test_sidecar_and_webhook_settings(renders: dict[str, list[dict[str, Any]]]) -> None:
    defaults = env(renders["defaults"])
    assert defaults["SIDECAR_IMAGE"] == "vault-mcp-sidecar:0.1.0"
    assert defaults["SIDECAR_VAULT_ADDR"] == "http://vault.vault.svc:8200"
    assert {
        key: defaults[key]
        for key in (
            "SIDECAR_CPU_REQUEST",
            "SIDECAR_MEMORY_REQUEST",
            "SIDECAR_CPU_LIMIT",
            "SIDECAR_MEMORY_LIMIT",
        )
    } == {
        "SIDECAR_CPU_REQUEST": "50m",
        "SIDECAR_MEMORY_REQUEST": "64Mi",
        "SIDECAR_CPU_LIMIT": "500m",
        "SIDECAR_MEMORY_LIMIT": "256Mi",
    }
    assert defaults["WEBHOOK_ENABLED"] == "true"
    assert defaults["WEBHOOK_PORT"] == "9443"
    assert defaults["WEBHOOK_CERT_FILE"] == "/etc/webhook/tls/tls.crt"
    assert defaults["WEBHOOK_KEY_FILE"] == "/etc/webhook/tls/tls.key"
    assert defaults["WEBHOOK_FAIL_OPEN"] == "false"
    assert env(renders["webhook-off"])["WEBHOOK_ENABLED"] == "false"


# -- RBAC ------------------------------------------------------------------------------------


def rules(objs: list[dict[str, Any]], kind: str) -> dict[str, set[str]]:
    granted: dict[str, set[str]] = {}
    for role in by_kind(objs, kind):
        for rule in role["rules"]:
            for resource in rule["resources"]:
                granted.setdefault(resource, set()).update(rule["verbs"])
    return granted


def test_cluster_role_is_least_privilege(renders: dict[str, list[dict[str, Any]]]) -> None:
    assert rules(renders["defaults"], "ClusterRole") == {
        "customresourcedefinitions": {"list", "watch"},
        "namespaces": {"list", "watch"},
        "vaultagents": {"get", "list", "watch", "patch"},
        "vaultagents/status": {"get", "patch"},
        "secrets": {"get", "create", "patch", "delete"},
        "events": {"create"},
    }


def test_namespaced_mode_grants_agents_only_in_those_namespaces(
    renders: dict[str, list[dict[str, Any]]],
) -> None:
    objs = renders["namespaced"]
    assert set(rules(objs, "ClusterRole")) == {"customresourcedefinitions", "namespaces"}
    assert {role["metadata"]["namespace"] for role in by_kind(objs, "Role")} == {
        "team-a",
        "team-b",
    }
    assert {b["metadata"]["namespace"] for b in by_kind(objs, "RoleBinding")} == {
        "team-a",
        "team-b",
    }
    assert "pods" not in rules(objs, "Role")


def test_peering_resources_only_with_peering(renders: dict[str, list[dict[str, Any]]]) -> None:
    assert "clusterkopfpeerings" not in rules(renders["defaults"], "ClusterRole")
    assert "clusterkopfpeerings" in rules(renders["token-peering"], "ClusterRole")
    assert "kopfpeerings" in rules(renders["token-peering"], "ClusterRole")


def test_rbac_create_false_renders_no_rbac(renders: dict[str, list[dict[str, Any]]]) -> None:
    objs = renders["no-rbac"]
    assert not [obj for obj in objs if obj["kind"] in RBAC_KINDS]
    assert not by_kind(objs, "ServiceAccount")
    spec = one(objs, "Deployment")["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == "ops"


# -- The webhook -----------------------------------------------------------------------------


def webhook(objs: list[dict[str, Any]]) -> dict[str, Any]:
    (hook,) = one(objs, "MutatingWebhookConfiguration")["webhooks"]
    return hook  # type: ignore[no-any-return]


def test_webhook_registration(renders: dict[str, list[dict[str, Any]]]) -> None:
    hook = webhook(renders["defaults"])
    assert hook["rules"] == [
        {
            "apiGroups": [""],
            "apiVersions": ["v1"],
            "operations": ["CREATE"],
            "resources": ["pods"],
            "scope": "Namespaced",
        }
    ]
    assert hook["namespaceSelector"]["matchLabels"] == {"vaultmcp.dev/injection": "enabled"}
    assert "objectSelector" not in hook
    assert (hook["failurePolicy"], hook["timeoutSeconds"]) == ("Fail", 5)
    assert (hook["sideEffects"], hook["admissionReviewVersions"]) == ("None", ["v1"])
    service = one(renders["defaults"], "Service")
    assert hook["clientConfig"]["service"] == {
        "name": service["metadata"]["name"],
        "namespace": NAMESPACE,
        "path": "/inject-sidecar",
        "port": 443,
    }
    ports = {port["name"]: port for port in service["spec"]["ports"]}
    assert (ports["webhook"]["port"], ports["webhook"]["targetPort"]) == (443, "webhook")
    container_ports = {
        p["name"]: p["containerPort"] for p in container(renders["defaults"])["ports"]
    }
    assert container_ports["webhook"] == 9443


def test_webhook_settings_are_configurable(renders: dict[str, list[dict[str, Any]]]) -> None:
    hook = webhook(renders["token-peering"])
    assert (hook["failurePolicy"], hook["timeoutSeconds"]) == ("Ignore", 10)
    assert hook["objectSelector"] == {"matchLabels": {"ai-agent": "yes"}}


def test_self_signed_certificate_serves_the_service_and_is_the_ca_bundle(
    renders: dict[str, list[dict[str, Any]]],
) -> None:
    objs = renders["defaults"]
    secret = one(objs, "Secret")
    hook = webhook(objs)
    assert hook["clientConfig"]["caBundle"] == secret["data"]["ca.crt"]
    cert = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    ca = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["ca.crt"]))
    cert.verify_directly_issued_by(ca)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    service = one(objs, "Service")["metadata"]["name"]
    assert f"{service}.{NAMESPACE}.svc" in names.get_values_for_type(x509.DNSName)
    volumes = one(objs, "Deployment")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "webhook-tls", "secret": {"secretName": secret["metadata"]["name"]}} in volumes


@pytest.mark.parametrize("scenario", ["cert-manager", "cert-manager-issuer"])
def test_cert_manager_injects_the_ca(
    renders: dict[str, list[dict[str, Any]]], scenario: str
) -> None:
    objs = renders[scenario]
    assert not by_kind(objs, "Secret")
    certificate = one(objs, "Certificate")
    configuration = one(objs, "MutatingWebhookConfiguration")
    assert configuration["metadata"]["annotations"] == {
        "cert-manager.io/inject-ca-from": f"{NAMESPACE}/{certificate['metadata']['name']}"
    }
    assert "caBundle" not in webhook(objs)["clientConfig"]
    service = one(objs, "Service")["metadata"]["name"]
    assert f"{service}.{NAMESPACE}.svc" in certificate["spec"]["dnsNames"]
    volumes = one(objs, "Deployment")["spec"]["template"]["spec"]["volumes"]
    assert {"name": "webhook-tls", "secret": {"secretName": certificate["spec"]["secretName"]}} in (
        volumes
    )
    issuer = certificate["spec"]["issuerRef"]
    if scenario == "cert-manager":
        assert issuer["name"] == one(objs, "Issuer")["metadata"]["name"]
    else:
        assert not by_kind(objs, "Issuer")
        assert (issuer["name"], issuer["kind"]) == ("corp-ca", "ClusterIssuer")


def test_webhook_disabled_registers_nothing(renders: dict[str, list[dict[str, Any]]]) -> None:
    objs = renders["webhook-off"]
    kinds = {obj["kind"] for obj in objs}
    assert kinds.isdisjoint({"MutatingWebhookConfiguration", "Secret", "Certificate", "Service"})
    assert "webhook-tls" not in str(one(objs, "Deployment"))


# -- CRDs, NOTES, install.yaml ---------------------------------------------------------------


def test_chart_crds_are_the_repository_crds() -> None:
    source = {p.name: p.read_bytes() for p in chartkit.CRD_SOURCE.glob("*.yaml")}
    copied = {p.name: p.read_bytes() for p in chartkit.CHART_CRDS.glob("*.yaml")}
    assert source
    assert copied == source, "run `make sync-crds`"


def test_notes_say_how_to_upgrade_the_crd() -> None:
    notes = render()["vault-mcp-bridge/templates/NOTES.txt"]
    assert "NEVER upgrades" in notes
    assert "kubectl apply --server-side -f charts/vault-mcp-bridge/crds/" in notes
    assert "vaultmcp.dev/injection=enabled" in notes


def test_install_yaml_is_up_to_date() -> None:
    assert chartkit.INSTALL_YAML.read_text() == chartkit.install_manifest(), "run `make manifests`"


def test_install_yaml_objects_are_valid_kubernetes() -> None:
    docs = [doc for doc in yaml.safe_load_all(chartkit.INSTALL_YAML.read_text()) if doc]
    assert docs[0] == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": NAMESPACE,
            "labels": {"app.kubernetes.io/part-of": "vault-mcp-bridge"},
        },
    }
    for doc in docs:
        if doc["apiVersion"] != CERT_MANAGER:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    assert not [doc for doc in docs if doc["kind"] == "Secret"]  # no private key in the repo
