"""Benchmarks of jaxpa (see benchmarks/RESULTS.md): ``python benchmarks/bench_standard.py``."""
