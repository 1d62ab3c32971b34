"""One router per concern; each route's operation_id is also its MCP tool name."""
