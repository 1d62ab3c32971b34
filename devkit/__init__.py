"""Development harness: real OpenBao, nginx and friends for tests, the demo and the benchmark.

Not shipped in any distribution; importable from the repository root.
"""
