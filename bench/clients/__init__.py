"""Load-generator and client programs, each run as its own process (``python -m ...``).

They coordinate with the bench through files: a client writes its *ready file* once its
connections are open, waits for the *go file* (which holds the monotonic start time; the
clock is system-wide on Linux), runs, and writes its results as JSON to ``--out``.
"""
