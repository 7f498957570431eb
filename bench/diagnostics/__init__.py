"""Stand-alone reproductions of problems the benchmarks found (not part of ``python -m bench``)."""
