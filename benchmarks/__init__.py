"""Benchmarks of the pipeline's hot paths, each run as `python -m benchmarks.<name>`."""
