"""Helpers and fixtures the tests share, which benchmarks may use too; nothing here imports a test module
or a benchmark."""
