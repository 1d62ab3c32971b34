"""Vault MCP Bridge sidecar: scoped, short-lived Vault/OpenBao access for AI agents.

Serves KV v2 and Transit under each agent's own path, as REST and as MCP tools.
"""

__version__ = "0.1.0"
