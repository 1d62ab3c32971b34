"""Everything that talks to Vault/OpenBao: the one I/O boundary of the sidecar."""
