"""`python -m vault_mcp_sidecar`."""

import sys

from vault_mcp_sidecar.cli import main

sys.exit(main())
