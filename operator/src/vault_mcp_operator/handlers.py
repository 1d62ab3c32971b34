"""The kopf handlers for VaultAgents: thin wiring from Kubernetes events to `reconcile`.

Level-based, as kopf's docs recommend: create, update (of the spec) and resume all run the same
reconcile, and a timer runs it again every RECONCILE_INTERVAL_SECONDS, which repairs drift
(someone edited the policy or role in Vault) and rotates secret_ids before they expire. The
timer is `idle`: it waits until the object has been quiet for a while, so it does not race a
change being handled. Delete goes through kopf's finalizer: Vault access ends first, then the
Secret goes, then the finalizer is released.

What a handler decides, status.py words: Ready condition, status fields and Events. Errors:
- a spec that can never work -> Ready=False InvalidSpec, an Event, `kopf.PermanentError`;
- Vault unreachable / refusing, the Secret unwritable -> Ready=False with the reason, one Event
  per new failure, `kopf.TemporaryError` with exponential backoff. Never a sleep, never a crash.

Handlers are synchronous (hvac and the kubernetes client are); kopf runs them in threads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import kopf
import kubernetes
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from vault_mcp_operator.config import OperatorSettings
from vault_mcp_operator.kube_secrets import (
    ForeignSecret,
    KubeSecretStore,
    KubeStoreError,
    Owner,
)
from vault_mcp_operator.login import LoginError, VaultSession
from vault_mcp_operator.manifests import GROUP, PLURAL, VERSION
from vault_mcp_operator.metrics import Metrics
from vault_mcp_operator.names import AgentNames, agent_names
from vault_mcp_operator.reconcile import Outcome, reconcile, removal_target, remove
from vault_mcp_operator.spec import SpecError, VaultAgentSpec, parse_spec
from vault_mcp_operator.status import (
    Event,
    Reason,
    change_events,
    condition_changed,
    failed_status,
    failure_event,
    ready_status,
    recovery_events,
    status_patch,
)
from vault_mcp_operator.vault_admin import VaultAdmin, VaultRefused, VaultUnavailable
from vault_mcp_sidecar.naming import InvalidName

RESOURCE = (GROUP, VERSION, PLURAL)
# Where kopf keeps the last spec it handled (configure_kopf): present once creation is done.
HANDLED = f"{GROUP}/last-handled-configuration"

log = logging.getLogger("vault_mcp_operator")


class HandlerOptions(BaseSettings):
    """Timing of the kopf side; environment variables of the same name, upper-cased."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    reconcile_interval_seconds: float = Field(default=60.0, ge=0.5, le=86_400)
    # The timer waits until an agent has been left alone this long (after a change).
    reconcile_idle_seconds: float = Field(default=10.0, ge=0, le=86_400)
    retry_base_seconds: float = Field(default=5.0, gt=0, le=3_600)
    retry_max_seconds: float = Field(default=300.0, gt=0, le=86_400)
    # Threads for the (blocking, Vault-bound) handlers. kopf's default is asyncio's, 6 on two
    # cores: 1,000 agents then converged in 52-67 s, mostly waiting on Vault, not using CPU.
    reconcile_workers: int = Field(default=16, ge=1, le=256)

    def backoff(self, retry: int) -> float:
        """Seconds before retry number `retry` (0-based): doubling, capped."""
        return float(min(self.retry_max_seconds, self.retry_base_seconds * 2 ** min(retry, 20)))


class AgentLocks:
    """One lock per VaultAgent: the timer and a change handler run in different threads and
    must not both issue a secret_id for the same agent."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def of(self, uid: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(uid, threading.Lock())

    def forget(self, uid: str) -> None:
        with self._guard:
            self._locks.pop(uid, None)


@dataclass
class Runtime:
    """Everything long-lived the handlers share; kept in kopf's memo as `memo.runtime`."""

    settings: OperatorSettings
    options: HandlerOptions
    metrics: Metrics
    # One login for the whole operator, renewed before it expires and redone after a 403.
    session: VaultSession
    kube: kubernetes.client.ApiClient | None = None  # at startup: kopf has logged in by then
    locks: AgentLocks = field(default_factory=AgentLocks)
    admin: VaultAdmin = field(init=False)

    def __post_init__(self) -> None:
        self.admin = VaultAdmin(self.session, self.settings)


class Failure(Exception):
    """A reconcile failed for a reason the agent's status reports."""

    def __init__(self, reason: Reason, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.permanent = permanent


# -- registration --------------------------------------------------------------------------


def register(registry: kopf.OperatorRegistry, options: HandlerOptions) -> None:
    """Attach the handlers to `registry` (run.py builds one per operator)."""
    # A registry of our own has none of kopf's default login handlers: name the one we use,
    # the same discovery as the kubernetes client's (service account, else kubeconfig).
    kopf.on.login(registry=registry)(kopf.login_via_client)
    kopf.on.startup(registry=registry)(startup)
    kopf.on.cleanup(registry=registry)(cleanup)
    kopf.on.create(*RESOURCE, registry=registry, id="reconcile-created")(on_change)
    kopf.on.update(*RESOURCE, registry=registry, id="reconcile-updated", field="spec")(on_change)
    kopf.on.resume(*RESOURCE, registry=registry, id="reconcile-resumed")(on_resume)
    kopf.timer(
        *RESOURCE,
        registry=registry,
        id="resync",
        interval=options.reconcile_interval_seconds,
        idle=options.reconcile_idle_seconds or None,
    )(on_timer)
    kopf.on.delete(*RESOURCE, registry=registry, id="remove")(on_delete)


def configure_kopf(settings: kopf.OperatorSettings) -> None:
    """Keep kopf's bookkeeping under our own names, and out of `status` (the CRD's status
    schema is strict); post only the Events this module chooses, not kopf's log lines."""
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix=GROUP)
    settings.posting.level = logging.CRITICAL
    settings.posting.reporting_component = "vault-mcp-operator"


def startup(memo: Any, logger: logging.Logger | logging.LoggerAdapter[Any], **_: Any) -> None:
    rt = runtime_of(memo)
    rt.kube = kube_api_client()
    try:
        rt.session.client()  # log in now to show a misconfiguration early; not fatal
    except (LoginError, VaultUnavailable, VaultRefused) as exc:
        logger.warning("Vault login failed; will retry with each reconcile: %s", exc)


def cleanup(memo: Any, **_: Any) -> None:
    rt = runtime_of(memo)
    if rt.kube is not None:
        rt.kube.close()  # type: ignore[no-untyped-call]


def kube_api_client() -> kubernetes.client.ApiClient:
    """In a pod, the service account; elsewhere, the kubeconfig (as kopf's own login)."""
    # The kubernetes package marks these untyped; they only set its default Configuration.
    try:
        kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config()  # type: ignore[no-untyped-call]
    return kubernetes.client.ApiClient()


def runtime_of(memo: Any) -> Runtime:
    """The Runtime from kopf's memo (handlers here and the webhook)."""
    # Named `rt` everywhere: kopf passes a `runtime` keyword (the handler's duration).
    rt = memo.get("runtime")
    assert isinstance(rt, Runtime), "run.py puts the Runtime into the memo"
    return rt


# -- handlers ------------------------------------------------------------------------------


def on_change(**kwargs: Any) -> None:
    """Create / update: reconcile; changes are what the user asked for."""
    rt = runtime_of(kwargs["memo"])
    with rt.locks.of(kwargs["uid"]):
        _reconcile(rt, drift=False, **kwargs)


def on_resume(**kwargs: Any) -> None:
    """Operator (re)start: any change found now was made in Vault while nobody watched."""
    rt = runtime_of(kwargs["memo"])
    with rt.locks.of(kwargs["uid"]):
        _reconcile(rt, drift=True, **kwargs)


def on_timer(**kwargs: Any) -> None:
    """Periodic resync; skipped while a change handler holds the agent (it reconciles now),
    and for an agent whose creation kopf has not finished handling (it will, with retries)."""
    if HANDLED not in kwargs["meta"].get("annotations", {}):
        return
    rt = runtime_of(kwargs["memo"])
    lock = rt.locks.of(kwargs["uid"])
    if not lock.acquire(blocking=False):
        return
    try:
        _reconcile(rt, drift=True, **kwargs)
    except kopf.PermanentError:
        return  # reported in status already; only a new spec can help, and it has its handler
    finally:
        lock.release()


def on_delete(**kwargs: Any) -> None:
    rt = runtime_of(kwargs["memo"])
    uid = kwargs["uid"]
    with rt.locks.of(uid):
        _remove(rt, **kwargs)
    rt.locks.forget(uid)
    rt.metrics.forget(uid)


# -- reconcile -----------------------------------------------------------------------------


def _reconcile(
    rt: Runtime,
    *,
    drift: bool,
    body: kopf.Body,
    spec: kopf.Spec,
    meta: kopf.Meta,
    status: kopf.Status,
    patch: kopf.Patch,
    retry: int = 0,
    **_: Any,
) -> None:
    now = datetime.now(UTC)
    generation = meta.get("generation")
    current = dict(status)
    try:
        with rt.metrics.timed():
            names, outcome = _run_reconcile(rt, body, spec, now)
    except Failure as failure:
        _report_failure(rt, body, current, patch, failure, generation, now)
        raise _kopf_error(rt, failure, retry) from None
    rt.metrics.succeeded(str(meta["uid"]), outcome.vault_writes)
    _report_success(body, current, patch, names, outcome, generation, now, drift=drift)


def _run_reconcile(
    rt: Runtime, body: kopf.Body, spec: kopf.Spec, now: datetime
) -> tuple[AgentNames, Outcome]:
    parsed, names = _parse(rt.settings, body, spec)
    store = _store(rt, body)
    with _failures(rt):
        return names, reconcile(rt.admin, store, names, parsed, rt.settings, now)


def _parse(
    settings: OperatorSettings, body: kopf.Body, spec: kopf.Spec
) -> tuple[VaultAgentSpec, AgentNames]:
    namespace, name = str(body.metadata.namespace), str(body.metadata.name)
    try:
        parsed = parse_spec(dict(spec))
        return parsed, agent_names(namespace, name, settings, parsed.transit.keys)
    except (SpecError, InvalidName) as exc:
        raise Failure(Reason.INVALID_SPEC, str(exc), permanent=True) from None


def _store(rt: Runtime, body: kopf.Body) -> KubeSecretStore:
    assert rt.kube is not None, "set at startup"
    owner = Owner(name=str(body.metadata.name), uid=str(body.metadata.uid))
    return KubeSecretStore(rt.kube, owner)


@contextmanager
def _failures(rt: Runtime) -> Iterator[None]:
    """Vault and Kubernetes errors, as the reason the agent is not Ready."""
    try:
        yield
    except VaultUnavailable as exc:
        raise Failure(Reason.VAULT_UNAVAILABLE, str(exc)) from None
    except VaultRefused as exc:  # after VaultAdmin's one fresh login on a 403
        raise Failure(Reason.VAULT_REFUSED, str(exc)) from None
    except LoginError as exc:
        raise Failure(_login_reason(exc), f"operator login: {exc}") from None
    except ForeignSecret as exc:
        raise Failure(Reason.SECRET_CONFLICT, str(exc)) from None
    except KubeStoreError as exc:
        raise Failure(Reason.KUBERNETES_ERROR, str(exc)) from None


def _login_reason(exc: LoginError) -> Reason:
    # login.py raises LoginError "from None": the Vault error is still its __context__.
    unavailable = isinstance(exc.__context__, VaultUnavailable)
    return Reason.VAULT_UNAVAILABLE if unavailable else Reason.VAULT_REFUSED


def _kopf_error(rt: Runtime, failure: Failure, retry: int) -> Exception:
    if failure.permanent:
        return kopf.PermanentError(f"{failure.reason}: {failure.message}")
    delay = rt.options.backoff(retry)
    return kopf.TemporaryError(f"{failure.reason}: {failure.message}", delay=delay)


# -- reporting -----------------------------------------------------------------------------


def _report_success(
    body: kopf.Body,
    current: dict[str, Any],
    patch: kopf.Patch,
    names: AgentNames,
    outcome: Outcome,
    generation: int | None,
    now: datetime,
    *,
    drift: bool,
) -> None:
    desired = ready_status(current, names, outcome, generation, now)
    _patch_status(patch, current, desired)
    events = change_events(outcome, drift=drift) + recovery_events(current.get("conditions"))
    _post(body, events)


def _report_failure(
    rt: Runtime,
    body: kopf.Body,
    current: dict[str, Any],
    patch: kopf.Patch,
    failure: Failure,
    generation: int | None,
    now: datetime,
) -> None:
    rt.metrics.failed(str(body.metadata.uid), _metric_label(failure.reason))
    desired = failed_status(current, failure.reason, failure.message, generation, now)
    _patch_status(patch, current, desired)
    if condition_changed(current.get("conditions"), desired["conditions"][-1]):
        _post(body, [failure_event(failure.reason, failure.message)])
    log.warning("%s/%s: %s", body.metadata.namespace, body.metadata.name, failure.message)


def _metric_label(reason: Reason) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in str(reason)).lstrip("_")


def _patch_status(patch: kopf.Patch, current: dict[str, Any], desired: dict[str, Any]) -> None:
    for key, value in status_patch(current, desired).items():
        patch.status[key] = value


def _post(body: kopf.Body, events: list[Event]) -> None:
    for event in events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)


# -- delete --------------------------------------------------------------------------------


def _remove(rt: Runtime, *, body: kopf.Body, spec: kopf.Spec, retry: int = 0, **_: Any) -> None:
    namespace, name = str(body.metadata.namespace), str(body.metadata.name)
    names, policy = removal_target(namespace, name, dict(spec), rt.settings)
    if names is None:
        return  # a name no agent could have had: nothing exists in Vault for it
    try:
        with _failures(rt):
            writes = remove(rt.admin, _store(rt, body), names, policy)
    except Failure as failure:
        rt.metrics.removal_failed(_metric_label(failure.reason))
        _post(body, [failure_event(failure.reason, f"cannot remove yet: {failure.message}")])
        raise _kopf_error(rt, failure, retry) from None
    rt.metrics.removed(writes)
    log.info("%s: removed (%s, %d Vault writes)", names.subject, policy, writes)
