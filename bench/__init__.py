"""The benchmarks (docs/BENCHMARKS.md: method; docs/PERFORMANCE.md: figures).

Entry points: `run` (make bench: wrk, sidecar vs direct OpenBao vs bao agent), `operator` (offline
apply of 1,000 agents), `coldstart`, `webhook`, `scaling` (make bench-scaling), `profile` (make
bench-profile), `plot` (redraws docs/scaling.png).

Pure, unit-tested parts (bench/tests): `results`, `render`, `timing`, `importtime`, `flame`,
`fleet`, `pods`, `scaling_report`, `config`. I/O: `load` drives wrk, `stack` starts and
provisions the real servers, `emulator` keeps KMock's cost per request flat, `output` writes
the JSON records under .bench/.
"""
