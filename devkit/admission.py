"""The AdmissionReview the Kubernetes API server POSTs to a mutating webhook, for pods.

One builder for every caller that plays the API server: the webhook bench and the webhook
integration tests send the same shape, so a field the webhook starts to read is added once.
"""

from __future__ import annotations

import copy
from typing import Any

# Who creates a Deployment's pods: the ReplicaSet controller, not the user who applied it.
REPLICASET_CONTROLLER = "system:serviceaccount:kube-system:replicaset-controller"


def pod_admission_review(
    pod: dict[str, Any], namespace: str, uid: str, username: str = REPLICASET_CONTROLLER
) -> dict[str, Any]:
    """The AdmissionReview for creating `pod` in `namespace`; `pod` is copied, not shared."""
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {"username": username},
            "object": copy.deepcopy(pod),
            "dryRun": False,
        },
    }
