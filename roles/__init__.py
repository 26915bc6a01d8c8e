"""pyinfra roles that turn Debian hosts into a dcos-core cluster (applied by `deploy.py`).

- `roles.settings`: the deploy's settings as one pydantic model (`DeploySettings`: types,
  defaults, constraints, descriptions; the table in docs/deploy.md is generated from it),
  overridable per group and per host through inventory data; `resolve(host)` gives a host's
  validated, effective settings.
- `roles.wheelhouse`: builds, on the control machine, the deterministic wheelhouse tarball that
  the hosts install dcos-core from (no internet or PyPI needed on the hosts).
- `roles.common`: what every host gets (system user, directories, Python, apt proxy, the venv).
- `roles.master`, `roles.frameworks`, `roles.agent`: the services, as `@deploy` functions with
  jinja2 templates in `roles/<role>/templates/`.
"""
