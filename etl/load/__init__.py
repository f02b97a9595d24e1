"""Load: writing prepared pages to the raw layer and the normalized tables, nothing else."""
