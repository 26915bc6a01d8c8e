"""dcos-core's benchmarks: one module per benchmark, sharing `bench.harness`.

Run one from the repository root with `python -m bench.<name>` (allocator, master, launch,
marathon, chronos, deploy, appliance); each prints JSON lines and `--plot PNG` draws its chart.
Not part of the installed package: it needs the test extras (matplotlib) and, for deploy and
appliance, the test helpers in `tests/`.
"""
