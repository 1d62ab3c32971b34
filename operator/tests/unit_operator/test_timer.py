"""handlers.on_timer: the periodic resync stays out of the way of change handlers, and of an
agent whose creation kopf has not finished handling."""

from __future__ import annotations

from typing import Any

import kopf
import pytest
from prometheus_client import CollectorRegistry

from vault_mcp_operator import handlers
from vault_mcp_operator.config import OperatorSettings
from vault_mcp_operator.handlers import HANDLED, HandlerOptions, Runtime, on_timer
from vault_mcp_operator.login import VaultSession
from vault_mcp_operator.metrics import Metrics


@pytest.fixture
def reconciled(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The reconciles the timer starts (their `drift` flags), in place of real ones."""
    calls: list[bool] = []

    def record(rt: Runtime, *, drift: bool, **_: Any) -> None:
        calls.append(drift)

    monkeypatch.setattr(handlers, "_reconcile", record)
    return calls


@pytest.fixture
def rt(settings: OperatorSettings) -> Runtime:
    metrics = Metrics(CollectorRegistry())
    return Runtime(settings, HandlerOptions(), metrics, VaultSession(settings))


def fire(rt: Runtime, annotations: dict[str, str]) -> None:
    meta = {"name": "alice", "namespace": "team-a", "uid": "uid-1", "annotations": annotations}
    on_timer(memo=kopf.Memo(runtime=rt), uid="uid-1", meta=meta)


def test_a_handled_agent_no_handler_holds_is_reconciled_as_drift(
    rt: Runtime, reconciled: list[bool]
) -> None:
    fire(rt, {HANDLED: "{}"})
    assert reconciled == [True]


def test_an_agent_kopf_has_not_finished_creating_is_left_to_its_handler(
    rt: Runtime, reconciled: list[bool]
) -> None:
    fire(rt, {})
    assert reconciled == []


def test_an_agent_a_change_handler_holds_is_skipped(rt: Runtime, reconciled: list[bool]) -> None:
    with rt.locks.of("uid-1"):  # a create/update handler is reconciling it now
        fire(rt, {HANDLED: "{}"})
    assert reconciled == []
    fire(rt, {HANDLED: "{}"})  # and the lock was not left taken
    assert reconciled == [True]


def test_a_permanent_error_is_not_raised_again_by_the_timer(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def invalid(rt: Runtime, **_: Any) -> None:
        raise kopf.PermanentError("InvalidSpec: spec.scopes")

    monkeypatch.setattr(handlers, "_reconcile", invalid)
    fire(rt, {HANDLED: "{}"})  # reported in status already; only a new spec can help
    assert rt.locks.of("uid-1").acquire(blocking=False)  # released on the way out
