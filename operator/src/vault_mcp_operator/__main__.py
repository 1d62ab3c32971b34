"""`python -m vault_mcp_operator`."""

import sys

from vault_mcp_operator.cli import main

sys.exit(main())
