"""Caller authentication: API keys, JWTs and mesh mTLS identity headers."""
