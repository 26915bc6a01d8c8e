"""Schemathesis fuzzes Marathon's API from the OpenAPI document it serves (`/openapi.json`).

The served document says what the server accepts; the fuzzer narrows its own copy
(`narrowed_for_fuzzing`: at most 5 instances, a fraction of a cpu, short lists, short ids), so
that the cases are small enough for a one-agent test cluster and mostly valid in the positive
phase.

A master, one small agent and `dcos-core marathon` run on 127.0.0.1. The agent uses the
`simulated` containerizer: fuzzed apps that pass validation are really scheduled and launched,
but no command runs (no process, no image pull, no fetch), so generated `cmd`s are harmless.

The budget is bounded and deterministic: every operation (except `/v2/events`, an endless
stream) gets `POSITIVE_EXAMPLES` schema-valid and `NEGATIVE_EXAMPLES` schema-violating cases
from a derandomized Hypothesis run, without shrinking, under an overall `TIME_BUDGET`. Each
response must not be a 5xx, must come within `CALL_TIMEOUT` (no hang), and must have a status
code the schema declares. All failures are collected and reported together, with a curl line.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from tests.cluster import Cluster, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

POSITIVE_EXAMPLES = 25
NEGATIVE_EXAMPLES = 15
TIME_BUDGET = 75.0  # seconds for all operations together (a cap: cases past it are skipped)
CALL_TIMEOUT = 10.0
SKIPPED_PATHS = {"/v2/events"}
# Operations that build state go first, so that the reads and deletes find something.
ORDER = ["POST", "PUT", "PATCH", "GET", "DELETE"]

# ---- the fuzzer's narrowing of the served document

FUZZ_ID = r"^/?[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?(/[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?){0,2}$"
FUZZ_SEGMENT = r"^[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?$"
MAX_INSTANCES = 5
MAX_ITEMS = 3
# a test cluster must not be asked for 10^9 instances, nor wait for backoffs of days
APP_MAXIMA = {
    "instances": MAX_INSTANCES,
    "cpus": 1,
    "mem": 256,
    "disk": 64,
    "gpus": 0,
    "backoffSeconds": 3600,
    "backoffFactor": 10,
    "maxLaunchDelaySeconds": 3600,
    "taskKillGracePeriodSeconds": 300,
}
NESTED_BOUNDS: dict[str, dict[str, dict[str, int]]] = {
    "UnreachableStrategy": {
        "inactiveAfterSeconds": {"maximum": 3600},
        "expungeAfterSeconds": {"minimum": 0, "maximum": 3600},
    },
    "HealthCheck": {
        "portIndex": {"maximum": 4},
        "gracePeriodSeconds": {"maximum": 3600},
        "intervalSeconds": {"maximum": 3600},
        "timeoutSeconds": {"maximum": 3600},
        "maxConsecutiveFailures": {"maximum": 100},
        "delaySeconds": {"maximum": 3600},
    },
    "ReadinessCheck": {
        "intervalSeconds": {"minimum": 1, "maximum": 3600},
        "timeoutSeconds": {"maximum": 3600},
    },
}


def _numeric(prop: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in prop.get("anyOf", [prop]) if m.get("type") in ("integer", "number")]


def _array(prop: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in prop.get("anyOf", [prop]) if m.get("type") == "array"]


def narrowed_for_fuzzing(served: dict[str, Any]) -> dict[str, Any]:
    """A copy of the served document that asks for small, mostly valid cases."""
    doc = copy.deepcopy(served)
    schemas = doc["components"]["schemas"]
    for name in ("AppDefinition", "AppUpdate"):
        props = schemas[name]["properties"]
        for field, maximum in APP_MAXIMA.items():
            for member in _numeric(props[field]):
                member["maximum"] = maximum
        for member in props["id"].get("anyOf", [props["id"]]):
            if member.get("type") == "string":
                member["pattern"] = FUZZ_ID
        for field in ("ports", "portDefinitions", "healthChecks", "readinessChecks", "fetch"):
            for member in _array(props[field]):
                member["maxItems"] = MAX_ITEMS
        props["constraints"]["maxItems"] = MAX_ITEMS
        props["constraints"]["items"]["prefixItems"][2]["pattern"] = "^[0-9]$"
    for model, fields in NESTED_BOUNDS.items():
        for field, bounds in fields.items():
            for member in _numeric(schemas[model]["properties"][field]):
                member.update(bounds)
    schemas["Container"]["required"] = ["docker"]  # MESOS containers without an image: rare
    group = schemas["Group"]["properties"]
    group["id"]["pattern"] = FUZZ_ID
    group["apps"]["maxItems"] = MAX_ITEMS
    group["dependencies"].update(maxItems=MAX_ITEMS, items={"type": "string", "pattern": FUZZ_ID})
    # groups nest one level (recursive $refs are not worth the fuzzer's time)
    schemas["SubGroup"] = {
        "type": "object",
        "properties": {k: v for k, v in group.items() if k != "groups"},
    }
    group["groups"] = {
        "type": "array",
        "items": {"$ref": "#/components/schemas/SubGroup"},
        "maxItems": 2,
    }
    update = schemas["GroupUpdate"]["properties"]
    update.update({**group, "scaleBy": {**update["scaleBy"], "maximum": 2}})
    schemas["TaskIds"]["properties"]["ids"]["maxItems"] = 5
    body = doc["paths"]["/v2/apps"]["put"]["requestBody"]["content"]["application/json"]
    body["schema"]["maxItems"] = MAX_ITEMS
    for path, item in doc["paths"].items():
        if "{appId}" in path or "{groupId}" in path:
            for param in item["parameters"]:
                if param["name"] in ("appId", "groupId"):
                    param["schema"]["pattern"] = FUZZ_SEGMENT
    return doc


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(
        tmp_path_factory.mktemp("fuzz"),
        agent_resources="cpus:2;mem:1024;disk:1024;ports:[31000-31019]",
        agent_args=["--containerizers", "simulated"],
    )
    try:
        c.start(agents=1)
        c.start_marathon()
        yield c
    finally:
        c.stop()


# 5xx that are known and reported: (operation label, predicate on the body, reason). A 5xx that
# matches is listed as known, not failed; anything else fails the test. Empty: all fixed.
KNOWN_API_BUGS: list[tuple[str, Callable[[Any], bool], str]] = []


def _known_bug(label: str, body: Any) -> str | None:
    for op, matches, reason in KNOWN_API_BUGS:
        if op == label and matches(body):
            return reason
    return None


# Hostile bodies and what they must get (a non-None last item would mark a known api.py bug as
# xfail, strict).
HOSTILE: list[tuple[str, str, bytes, int, str | None]] = [
    ("POST", "/v2/apps", b'{"id": "nan", "cmd": "x", "cpus": NaN}', 422, None),
    ("POST", "/v2/apps", b'{"id": "inf", "cmd": "x", "mem": Infinity}', 422, None),
    ("POST", "/v2/apps", b'{"id": "big", "cmd": "x", "instances": 1e30}', 422, None),
    (
        "POST",
        "/v2/apps",
        b'{"id": "big", "cmd": "x", "instances": 100000000000000000000}',
        422,
        None,
    ),
    ("POST", "/v2/apps", b'{"id": "sur", "cmd": "\\ud800"}', 422, None),
    ("POST", "/v2/apps", b'{"id": "sur", "cmd": "x", "labels": {"\\udc00": "v"}}', 422, None),
    ("POST", "/v2/apps", b'{"id": "\\u00fcn\\u00efc\\u00f6de", "cmd": "x"}', 422, None),
    (
        "POST",
        "/v2/apps",
        b'{"id": "deep", "cmd": "x", "healthChecks": [{"portIndex": [[{}]]}]}',
        422,
        None,
    ),
    (
        "POST",
        "/v2/apps",
        b'{"id": "p", "container": {"docker": {"image": "i", "parameters": [{"a": "b"}]}}}',
        422,
        None,
    ),
    ("PATCH", "/v2/apps/fuzz-base", b'{"cpus": NaN}', 422, None),
    ("PUT", "/v2/apps/fuzz-base", b'{"instances": 1e300}', 422, None),
    ("POST", "/v2/apps", b'{"id": "x", "cmd": "x"', 422, None),
    ("POST", "/v2/tasks/delete", b'{"ids": [1]}', 422, None),
    ("PUT", "/v2/apps", b"[1]", 422, None),
    ("PUT", "/v2/groups/fuzz", b'{"scaleBy": "x"}', 422, None),
    ("PUT", "/v2/groups/fuzz", b'{"scaleBy": NaN}', 422, None),
    ("PUT", "/v2/groups/fuzz", b"[1, 2]", 422, None),
    ("PUT", "/v2/groups/fuzz", b'{"apps": 5}', 422, None),
    ("POST", "/v2/groups", b'{"groups": 5}', 422, None),
    ("POST", "/v2/groups", b'{"dependencies": 5}', 422, None),
]


@pytest.mark.parametrize(
    ("method", "path", "raw", "status"),
    [
        pytest.param(
            m,
            p,
            raw,
            status,
            id=f"{m} {p} {raw.decode()[:40]}",
            marks=[pytest.mark.xfail(reason=f"api.py bug (reported): {bug}", strict=True)]
            if bug
            else [],
        )
        for m, p, raw, status, bug in HOSTILE
    ],
)
def test_hostile_input_gets_422_with_a_path(
    cluster: Cluster, method: str, path: str, raw: bytes, status: int
) -> None:
    base = cluster.marathon_url
    with httpx.Client(base_url=base, timeout=CALL_TIMEOUT) as h:
        seed = {"id": "/fuzz-base", "cmd": "sleep 1000", "cpus": 0.01, "mem": 1}
        assert h.post("/v2/apps", json=seed).status_code in (201, 409)
        r = h.request(method, path, content=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == status, r.text
        body = r.json()
        assert body["details"] and all(d["path"].startswith("/") for d in body["details"]), body
        assert h.get("/v2/apps").status_code == 200  # still serving, state still renders


def test_openapi_document_is_served(cluster: Cluster) -> None:
    """The served document promises what the server checks; only the fuzzer's copy is narrow."""
    doc = httpx.get(f"{cluster.marathon_url}/openapi.json", timeout=10).json()
    assert doc["openapi"].startswith("3.")
    for path in ("/v2/apps", "/v2/apps/{appId}", "/v2/groups/{groupId}", "/v2/queue"):
        assert path in doc["paths"]
    app = doc["components"]["schemas"]["AppDefinition"]["properties"]
    assert (app["instances"]["minimum"], app["instances"]["maximum"]) == (0, 2**31 - 1)
    assert "maxItems" not in app["healthChecks"]
    fuzzed = narrowed_for_fuzzing(doc)["components"]["schemas"]["AppDefinition"]["properties"]
    assert fuzzed["instances"]["maximum"] == MAX_INSTANCES
    assert doc["components"]["schemas"]["AppDefinition"]["properties"] == app  # a copy
    # beyond the fuzzer's bound and within the server's: accepted, as the document says
    many = {"id": "/served", "cmd": "sleep 1", "cpus": 0.01, "mem": 1, "instances": 6}
    with httpx.Client(base_url=cluster.marathon_url, timeout=10) as h:
        assert h.post("/v2/apps", json=many).status_code == 201
        assert h.delete("/v2/apps/served", params={"force": "true"}).status_code == 200


def _operations(schema: Any) -> list[Any]:
    ops = [r.ok() for r in schema.get_all_operations()]
    ops = [op for op in ops if op.path not in SKIPPED_PATHS]
    return sorted(ops, key=lambda op: (ORDER.index(op.method.upper()), op.path))


def test_fuzz_marathon_api(cluster: Cluster) -> None:
    base = cluster.marathon_url
    served = httpx.get(f"{base}/openapi.json", timeout=CALL_TIMEOUT).json()
    schema = schemathesis.openapi.from_dict(narrowed_for_fuzzing(served))
    ops = _operations(schema)
    assert len(ops) >= 25, [op.label for op in ops]
    session = requests.Session()
    failures: dict[str, str] = {}  # one entry per (operation, kind of failure)
    counts: dict[str, int] = {}
    statuses: dict[str, dict[int, int]] = {}
    known: dict[str, str] = {}  # KNOWN_API_BUGS hit: reason -> example
    started = time.monotonic()

    def run(op: Any, mode: GenerationMode, examples: int) -> None:
        @settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy(generation_mode=mode))
        def one(case: Any) -> None:
            if time.monotonic() - started > TIME_BUDGET:
                return
            counts[op.label] = counts.get(op.label, 0) + 1
            try:
                response = case.call(base_url=base, session=session, timeout=CALL_TIMEOUT)
            except requests.Timeout:
                failures.setdefault(f"{op.label}: hang", case.as_curl_command())
                return
            by_code = statuses.setdefault(op.label, {})
            by_code[response.status_code] = by_code.get(response.status_code, 0) + 1
            try:
                case.validate_response(
                    response, checks=[not_a_server_error, status_code_conformance]
                )
            except Exception as e:  # a schemathesis FailureGroup (or a single failure)
                bug = _known_bug(op.label, case.body) if response.status_code >= 500 else None
                if bug is not None:
                    known.setdefault(bug, case.as_curl_command())
                    return
                key = f"{op.label}: {response.status_code}"
                failures.setdefault(
                    key, f"{type(e).__name__}: {e}\n{case.as_curl_command()}\n{response.text[:500]}"
                )

        try:
            one()
        except Unsatisfiable:  # negative mode on an operation without inputs
            assert mode == GenerationMode.NEGATIVE, op.label

    for mode, n in (
        (GenerationMode.POSITIVE, POSITIVE_EXAMPLES),
        (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES),
    ):
        for op in ops:
            if time.monotonic() - started > TIME_BUDGET:
                break
            run(op, mode, n)

    elapsed = time.monotonic() - started
    total = sum(counts.values())
    print(f"\nfuzzed {len(counts)} operations, {total} cases in {elapsed:.1f}s")
    for label, n in counts.items():
        print(f"  {n:4d}  {label}  {dict(sorted(statuses.get(label, {}).items()))}")
    for reason, example in known.items():
        print(f"known api.py bug hit: {reason}\n  {example}")
    assert not failures, "\n\n".join(f"== {k}\n{v}" for k, v in failures.items())
    assert elapsed < TIME_BUDGET + 2 * CALL_TIMEOUT
    # Marathon is still answering and consistent after the storm
    r = session.get(f"{base}/v2/apps", timeout=CALL_TIMEOUT)
    assert r.status_code == 200
    wait_for(lambda: session.get(f"{base}/ping", timeout=5).status_code == 200, 10, "ping")
