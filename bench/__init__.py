"""`make bench`: the sidecar's throughput and latency against direct OpenBao and a bao agent.

Layout: `results` is pure (wrk output to numbers, medians, ratios, verdicts, tables),
`load` drives wrk, `stack` starts and provisions the real servers, `run` wires them together.
"""
