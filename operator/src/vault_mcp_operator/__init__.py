"""Vault MCP Bridge operator: VaultAgent resources become Vault policies, roles and AppRoles.

Layers, top to bottom: `cli` / the kopf handlers (wiring), `reconcile` (what to do, in which
order), `vault_admin` (all Vault I/O) and `credentials` (where AppRole credentials go), and
pure structures underneath: `spec`, `names`, `desired`, `diff`, `rotation`, `durations`.
"""

__version__ = "0.1.0"
