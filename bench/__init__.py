"""Benchmarks of kpn_sms_notify against the alternatives (issue 6).

`python -m bench` runs everything against the KPN emulator (in its own process, on 127.0.0.1)
and writes `bench/results/results.json`, `bench/results/fanout.png` and
`bench/results/table.md`. `python -m bench --quick` is a smoke run of under a minute.
Not part of the unit tests (only `tests/test_bench_smoke.py` runs the quick fan-out).
"""
