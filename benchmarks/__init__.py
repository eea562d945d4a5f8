"""Benchmarks (never packaged). Run ``python -m benchmarks.run --help``."""
