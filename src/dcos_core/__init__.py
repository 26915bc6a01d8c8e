"""dcos-core: a datacenter operating system (Mesos-compatible master/agents, Marathon, Chronos)."""

__version__ = "0.1.0"
MESOS_COMPAT_VERSION = "1.12.0"
