"""`KubeSecretStore`: an agent's AppRole credentials in a Kubernetes Secret next to it.

Secret `<name>-vault-approle` in the agent's namespace. The keys a pod mounts are exactly
`role_id` and `secret_id` (the sidecar reads them through VAULT_ROLE_ID_FILE /
VAULT_SECRET_ID_FILE). The operator's bookkeeping — the secret_id's accessor and expiry, the
replaced accessor during its grace period — goes into annotations, where nobody mistakes it
for a credential and where `kubectl describe` shows it. Accessors are not secrets: they can
look up or destroy a secret_id, never log in with one.

The Secret is owned by its VaultAgent (controller, blockOwnerDeletion), so the cluster's
garbage collector removes it with the agent even if the operator is gone; the operator also
deletes it itself on removal. A Secret of that name that the operator did not create is never
overwritten: that is a `ForeignSecret` error, reported on the agent.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import kubernetes
import urllib3

from vault_mcp_operator.credentials import Credentials
from vault_mcp_operator.manifests import API_VERSION, GROUP, KIND
from vault_mcp_operator.names import AgentNames

MANAGED_BY = "vault-mcp-operator"
_PREFIX = f"{GROUP}/"
ACCESSOR = f"{_PREFIX}secret-id-accessor"
EXPIRES_AT = f"{_PREFIX}secret-id-expires-at"
PREVIOUS_ACCESSOR = f"{_PREFIX}previous-secret-id-accessor"
ROTATED_AT = f"{_PREFIX}rotated-at"
_BOOKKEEPING = (ACCESSOR, EXPIRES_AT, PREVIOUS_ACCESSOR, ROTATED_AT)


class KubeStoreError(Exception):
    """The Secret could not be read or written; retrying later may help."""


class ForeignSecret(KubeStoreError):
    """A Secret with the credentials' name exists and is not the operator's."""


@dataclass(frozen=True, slots=True)
class Owner:
    """The VaultAgent a Secret belongs to (for its ownerReference)."""

    name: str
    uid: str
    api_version: str = API_VERSION
    kind: str = KIND

    def reference(self) -> dict[str, Any]:
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }


class KubeSecretStore:
    """`CredentialStore` over the Kubernetes API, for the agents of one owner at a time."""

    def __init__(self, api: kubernetes.client.ApiClient, owner: Owner) -> None:
        self._core = kubernetes.client.CoreV1Api(api)
        self._owner = owner

    def load(self, names: AgentNames) -> Credentials | None:
        secret = self._read(names)
        if secret is None:
            return None
        _check_ours(secret, names)
        return credentials_from_secret(secret)

    def save(self, names: AgentNames, credentials: Credentials) -> None:
        desired = secret_body(names, credentials, self._owner)
        current = self._read(names)
        if current is None:
            _call("create", names, self._core.create_namespaced_secret, names.namespace, desired)
            return
        _check_ours(current, names)
        patch = secret_patch(current, desired)
        if patch:
            name, namespace = names.credentials_secret, names.namespace
            _call("patch", names, self._core.patch_namespaced_secret, name, namespace, patch)

    def delete(self, names: AgentNames) -> None:
        current = self._read(names)
        if current is None or not _is_ours(current):
            return  # never delete what the operator did not create
        name, namespace = names.credentials_secret, names.namespace
        _call("delete", names, self._core.delete_namespaced_secret, name, namespace)

    def _read(self, names: AgentNames) -> dict[str, Any] | None:
        read = self._core.read_namespaced_secret
        name, namespace = names.credentials_secret, names.namespace
        response = _call("read", names, read, name, namespace, _preload_content=False)
        if response is None:
            return None
        # Raw JSON (`_preload_content=False`): plain dicts, compared field by field below.
        body: dict[str, Any] = json.loads(getattr(response, "data", b"") or b"{}")
        return body


def _call(verb: str, names: AgentNames, method: Any, *args: Any, **kwargs: Any) -> Any:
    """One API request; None for 404 (absent: fine to read or delete), else KubeStoreError."""
    where = f"{verb} Secret {names.namespace}/{names.credentials_secret}"
    try:
        return method(*args, **kwargs)
    except kubernetes.client.ApiException as exc:
        if exc.status == 404 and verb in ("read", "delete"):
            return None
        raise KubeStoreError(f"{where}: {exc.status} {exc.reason}") from None
    except (OSError, urllib3.exceptions.HTTPError) as exc:
        # The API server unreachable: urllib3 gives up with MaxRetryError, not an OSError.
        raise KubeStoreError(f"{where}: {exc}") from None


def secret_body(names: AgentNames, credentials: Credentials, owner: Owner) -> dict[str, Any]:
    """The whole Secret for `credentials` (pure: unit-tested without a cluster)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": names.credentials_secret,
            "namespace": names.namespace,
            "labels": {
                "app.kubernetes.io/managed-by": MANAGED_BY,
                "app.kubernetes.io/part-of": "vault-mcp-bridge",
                f"{_PREFIX}agent": names.name,
            },
            "annotations": _annotations(credentials),
            "ownerReferences": [owner.reference()],
        },
        "data": {
            "role_id": _b64(credentials.role_id),
            "secret_id": _b64(credentials.secret_id),
        },
    }


def _annotations(credentials: Credentials) -> dict[str, str]:
    notes = {
        ACCESSOR: credentials.accessor,
        EXPIRES_AT: credentials.expires_at.isoformat(),
    }
    if credentials.previous_accessor:
        notes[PREVIOUS_ACCESSOR] = credentials.previous_accessor
    if credentials.rotated_at:
        notes[ROTATED_AT] = credentials.rotated_at.isoformat()
    return notes


def secret_patch(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """A merge patch taking `current` to `desired`; {} when they already agree.

    Only the fields the operator owns are compared: other annotations and labels (added by
    people or tools) stay. Bookkeeping annotations no longer wanted are removed (None).
    """
    meta: dict[str, Any] = {}
    cur_meta, want_meta = current.get("metadata", {}), desired["metadata"]
    labels = _changed(cur_meta.get("labels") or {}, want_meta["labels"], ())
    annotations = _changed(
        cur_meta.get("annotations") or {}, want_meta["annotations"], _BOOKKEEPING
    )
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    if (cur_meta.get("ownerReferences") or []) != want_meta["ownerReferences"]:
        meta["ownerReferences"] = want_meta["ownerReferences"]
    patch: dict[str, Any] = {"metadata": meta} if meta else {}
    if (current.get("data") or {}) != desired["data"]:
        patch["data"] = desired["data"]
    return patch


def _changed(
    current: Mapping[str, str], desired: Mapping[str, str], owned: tuple[str, ...]
) -> dict[str, Any]:
    changes: dict[str, Any] = {k: v for k, v in desired.items() if current.get(k) != v}
    changes |= {k: None for k in owned if k in current and k not in desired}
    return changes


def credentials_from_secret(secret: Mapping[str, Any]) -> Credentials | None:
    """The stored credentials; None when the Secret lacks any part of them (someone edited
    it): the operator then issues a fresh secret_id and destroys the ones it cannot track."""
    data = secret.get("data") or {}
    notes = secret.get("metadata", {}).get("annotations") or {}
    try:
        rotated = notes.get(ROTATED_AT)
        return Credentials(
            role_id=_unb64(data["role_id"]),
            secret_id=_unb64(data["secret_id"]),
            accessor=notes[ACCESSOR],
            expires_at=datetime.fromisoformat(notes[EXPIRES_AT]),
            previous_accessor=notes.get(PREVIOUS_ACCESSOR) or None,
            rotated_at=datetime.fromisoformat(rotated) if rotated else None,
        )
    except (KeyError, ValueError):
        return None


def _is_ours(secret: Mapping[str, Any]) -> bool:
    labels = secret.get("metadata", {}).get("labels") or {}
    return bool(labels.get("app.kubernetes.io/managed-by") == MANAGED_BY)


def _check_ours(secret: Mapping[str, Any], names: AgentNames) -> None:
    if not _is_ours(secret):
        raise ForeignSecret(
            f"Secret {names.credentials_secret} exists and is not managed by {MANAGED_BY}: "
            "rename or remove it"
        )


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _unb64(text: str) -> str:
    return base64.b64decode(text, validate=True).decode()
