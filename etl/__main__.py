"""`python -m etl`: the same command line as the `etl` executable."""

from etl.cli import run

run()
