"""Developer scripts: the `make demo` entry point and its helpers (run from the repo root)."""
