"""Performance benchmarks of the aelab course kit: ``python -m benchmarks`` (see ``run.py``).

Modules: ``throughput`` (fit vs the textbook DataLoader loop, fraction of peak matmul FLOP/s),
``latency`` (widget frames), ``build_time`` (``aelab build`` per notebook), ``run`` (the entry).
"""
