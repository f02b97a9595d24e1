"""Stripe-to-metrics pipeline.

`__version__` is the project's one version source: setuptools reads it for the package
metadata (pyproject's `dynamic = ["version"]`) and `etl --version` prints it.
"""

__version__ = "0.1.0"
