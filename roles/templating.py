"""Rendering of the roles' jinja2 templates, without pyinfra.

The deploy renders them through `files.template` on the control machine; an appliance renders the
same templates at first boot (`appliance/firstboot.py`), where pyinfra is not installed. Both use
these jinja2 settings, so a template means the same thing in both places.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined


def render(template: Path | str, **context: Any) -> str:
    """Render a template exactly as `files.template` does (StrictUndefined, trailing newline)."""
    path = Path(template)
    env = Environment(
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        loader=FileSystemLoader(str(path.parent)),
    )
    return env.get_template(path.name).render(**context)
