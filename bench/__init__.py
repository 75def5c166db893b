"""Benchmarks and the evaluation harness (python -m bench.eval, bench.latency, bench.ingest)."""
