"""The harness's sidecar environment: nothing from a developer's shell configures the sidecar."""

from __future__ import annotations

from devkit.sidecar import sidecar_base_env


def test_sidecar_settings_in_any_case_are_dropped_the_rest_kept() -> None:
    shell = {"PATH": "/usr/bin", "VAULT_ADDR": "https://prod", "api_keys_json": "{}", "LANG": "C"}
    assert sidecar_base_env(shell) == {"PATH": "/usr/bin", "LANG": "C"}
