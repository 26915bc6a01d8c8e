"""Isolators of the Mesos containerizer: one concern each (cgroups/cpu, cgroups/mem,
cgroups/pids, namespaces/pid, filesystem/linux, disk/du, network/ports, posix/cpu, posix/mem).

`base.Isolator` is the seam; `selection.build_isolators(names, config)` checks that this host can
run the chosen ones and builds them.
"""
