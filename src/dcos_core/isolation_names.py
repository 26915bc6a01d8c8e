"""Names of containerizers and isolators, and parsing of the `--containerizers` and
`--isolation` settings (pure; shared by the settings and the containerizer package)."""

from __future__ import annotations

from typing import Final

from dcos_core.errors import ConfigError

CONTAINERIZERS: Final = ("mesos", "docker", "posix", "simulated")
ISOLATORS: Final = (
    "cgroups/cpu",
    "cgroups/mem",
    "cgroups/pids",
    "namespaces/pid",
    "namespaces/ipc",
    "filesystem/linux",
    "filesystem/posix",
    "disk/du",
    "network/ports",
    "posix/cpu",
    "posix/mem",
)


def parse_containerizers(text: str) -> tuple[str, ...]:
    """`"mesos, docker"` -> `("mesos", "docker")`; unknown or empty -> `ConfigError`.

    Example:
        >>> parse_containerizers("docker,mesos")
        ('docker', 'mesos')
    """
    names: list[str] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if part not in CONTAINERIZERS:
            raise ConfigError(
                f"unknown containerizer '{part}' (known: {', '.join(CONTAINERIZERS)})",
                "containerizers",
            )
        if part not in names:
            names.append(part)
    if not names:
        raise ConfigError("name at least one containerizer", "containerizers")
    return tuple(names)


def parse_isolation(text: str) -> tuple[str, ...]:
    """`"cgroups/cpu, cgroups/mem"` -> names in order, duplicates dropped; unknown -> ConfigError.

    Example:
        >>> parse_isolation("cgroups/mem,cgroups/mem, disk/du")
        ('cgroups/mem', 'disk/du')
    """
    names: list[str] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if part not in ISOLATORS:
            raise ConfigError(
                f"unknown isolator '{part}' (known: {', '.join(ISOLATORS)})", "isolation"
            )
        if part not in names:
            names.append(part)
    if "filesystem/linux" in names and "filesystem/posix" in names:
        raise ConfigError("choose one of filesystem/linux and filesystem/posix", "isolation")
    return tuple(names)
