"""The runtime dependencies in pyproject.toml are exactly what runs on a host imports: the
package (`src/dcos_core`) and the appliance's first boot and config-drive tools (`appliance/`,
which run in the venv the deploy installs from the same dependencies)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = ("dcos_core", "appliance", "roles")
# Used without an import statement, each for a reason named here.
USED_BY_NAME = {"httptools": "uvicorn's HTTP parser, chosen with http='httptools' in serve.py"}


def _declared() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    out = {}
    for spec in project["dependencies"]:
        name = re.match(r"[A-Za-z0-9_.\-]+", spec)
        assert name, spec
        out[name.group(0).lower().replace("_", "-")] = spec
    return out


def _imported() -> dict[str, set[str]]:
    """distribution -> the modules of src/ that import it."""
    dists = packages_distributions()
    out: dict[str, set[str]] = {}
    paths = [*(ROOT / "src" / "dcos_core").rglob("*.py"), *(ROOT / "appliance").glob("*.py")]
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in FIRST_PARTY:
                    continue
                for dist in dists.get(top, [top]):
                    key = dist.lower().replace("_", "-")
                    out.setdefault(key, set()).add(str(path.relative_to(ROOT)))
    return out


def test_every_imported_package_is_declared() -> None:
    declared = _declared()
    missing = {d: sorted(m) for d, m in _imported().items() if d not in declared}
    assert not missing, f"imported but not in [project] dependencies: {missing}"


def test_the_appliance_first_boot_reads_cloud_init_yaml_with_a_declared_package() -> None:
    """Without `uvicorn[standard]` nothing brought PyYAML along, and a booted image failed to read
    its user-data (ModuleNotFoundError in dcos-firstboot)."""
    assert _imported()["pyyaml"] >= {"appliance/firstboot.py"}
    assert "pyyaml" in _declared()


def test_nothing_is_declared_that_is_not_used() -> None:
    imported = _imported()
    unused = set(_declared()) - set(imported) - set(USED_BY_NAME)
    assert not unused, f"declared but never imported: {sorted(unused)}"


def test_no_extras_that_pull_in_unused_packages() -> None:
    extras = [spec for spec in _declared().values() if "[" in spec]
    assert not extras, f"extras bring packages nothing imports: {extras}"
