"""The `dcos` CLI against a real master and two agents (processes on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from dcos_core import __version__
from dcos_core.cli.main import app
from tests.cluster import Cluster, RawScheduler, free_port, task_info, wait_for

pytestmark = pytest.mark.integration

STDOUT_LINES = [f"line-{i}" for i in range(1, 6)]
COMMAND = "; ".join(f"echo {s}" for s in STDOUT_LINES) + "; echo to-stderr >&2; sleep 120"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster(tmp_path_factory.mktemp("cli"))
    try:
        c.start(agents=2)
        yield c
    except BaseException:
        print(c.logs())
        raise
    finally:
        c.stop()


@pytest.fixture(scope="module")
def sched(cluster: Cluster) -> Iterator[RawScheduler]:
    """A framework with one long task (t-cli) whose stdout has five lines."""
    s = RawScheduler(
        cluster.master_addr,
        {
            "user": "root",
            "name": "cli-test",
            "failover_timeout": 60.0,
            "roles": ["dev"],
            "capabilities": [{"type": "PARTITION_AWARE"}, {"type": "MULTI_ROLE"}],
        },
    )
    s.subscribe()
    offer = s.wait_offers()[0]
    s.launch(offer, [task_info("t-cli", offer, COMMAND)])
    s.wait_update("t-cli", "TASK_RUNNING")
    s.agent_id = offer["agent_id"]["value"]  # type: ignore[attr-defined]
    yield s
    if s.framework_id:
        s.call({"type": "TEARDOWN", "framework_id": {"value": s.framework_id}})
    s.close()


def dcos(cluster: Cluster, *args: str, columns: int | None = None) -> Result:
    env = {"DCOS_URL": cluster.url}
    if columns is not None:  # a terminal that wide
        env["COLUMNS"] = str(columns)
    result = CliRunner().invoke(app, list(args), env=env)
    assert "Traceback" not in result.output, result.output
    return result


def ok(cluster: Cluster, *args: str, columns: int | None = None) -> str:
    result = dcos(cluster, *args, columns=columns)
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


def row_of(out: str, needle: str) -> str:
    return next(line for line in out.splitlines() if needle in line)


def release_offers(cluster: Cluster, s: RawScheduler, refuse_seconds: float = 60.0) -> None:
    """Decline every offer `s` holds until the master says it holds none: offers in flight (after
    a REVIVE, say) arrive after a first decline and would keep resources from the next framework."""

    def none_held() -> bool:
        s.decline_held_offers(refuse_seconds)
        fw = next(f for f in cluster.state()["frameworks"] if f["id"] == s.framework_id)
        return not fw["offers"]

    wait_for(none_held, 10, f"framework {s.framework_id} to hold no offers")


def wait_all_updates(s: RawScheduler, wanted: dict[str, str], timeout: float = 15) -> None:
    """Wait until each task in `wanted` reported its state (in any order)."""
    left = dict(wanted)

    def pred(e: dict[str, Any]) -> bool:
        if e["type"] == "UPDATE":
            st = e["update"]["status"]
            if left.get(st["task_id"]["value"]) == st["state"]:
                del left[st["task_id"]["value"]]
        return not left

    s.wait_event(pred, timeout)


def run_module(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dcos_core.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


# ----------------------------------------------------------------------------------------------
# errors and the entry point


def test_version_as_a_module() -> None:
    proc = run_module("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"dcos {__version__}")


def test_unreachable_master_gives_a_clean_message_and_exit_1() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    proc = run_module("--master", url, "cluster", "state")
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"dcos: cannot reach the master at {url} (is it running?)"
    assert "Traceback" not in proc.stderr + proc.stdout
    proc = run_module("node", "list", env={"DCOS_URL": url})  # the environment variable too
    assert proc.returncode == 1 and url in proc.stderr


def test_bad_arguments_give_usage_and_exit_2(cluster: Cluster) -> None:
    result = dcos(cluster, "role", "weight", "dev", "heavy")
    assert result.exit_code == 2
    assert "Usage" in result.output
    result = dcos(cluster, "quota", "set", "dev", "--guarantee", "cpus")
    assert result.exit_code == 2
    assert "NAME=VALUE" in result.output
    assert dcos(cluster, "node", "frobnicate").exit_code == 2


def test_4xx_gives_the_servers_message(cluster: Cluster) -> None:
    result = dcos(cluster, "framework", "teardown", "no-such-framework")
    assert result.exit_code == 1
    server = cluster.operator(
        {"type": "TEARDOWN", "teardown": {"framework_id": {"value": "no-such-framework"}}}
    )
    assert server.status_code == 400
    assert result.stderr.strip() == f"dcos: {server.text}"
    assert "Framework no-such-framework cannot be found" in result.stderr
    result = dcos(cluster, "node", "deactivate", "no-such-agent")
    assert (result.exit_code, result.stderr.strip()) == (
        1,
        "dcos: Agent no-such-agent is not known",
    )
    result = dcos(cluster, "framework", "why", "no-such-framework")  # JSON {"message"} error
    assert (result.exit_code, result.stderr.strip()) == (
        1,
        "dcos: Framework no-such-framework is not known",
    )
    result = dcos(cluster, "role", "weight", "dev", "0")
    assert result.exit_code == 1 and "positive" in result.stderr
    result = dcos(cluster, "task", "log", "no-such-task")
    assert result.exit_code == 1
    assert result.stderr.strip() == "dcos: task no-such-task is not known to the master"


# ----------------------------------------------------------------------------------------------
# nodes and the cluster


def test_node_list_shows_both_agents(cluster: Cluster) -> None:
    out = ok(cluster, "node", "list")
    slaves = cluster.state()["slaves"]
    assert len(slaves) == 2
    for s in slaves:
        row = next(line for line in out.splitlines() if s["id"] in line)
        assert f"{s['hostname']}:{s['port']}" in row
        assert " yes " in row
        assert "/4 " in row and "/4096" in row  # cpus and mem used/total
    raw = json.loads(ok(cluster, "node", "list", "--json"))
    assert sorted(a["id"] for a in raw) == sorted(s["id"] for s in slaves)


def test_cluster_state_summary(cluster: Cluster, sched: RawScheduler) -> None:
    out = ok(cluster, "cluster", "state")
    state = cluster.state()
    assert state["id"] in out
    assert "2 active, 0 inactive, 0 unreachable" in out
    assert "1 running" in out
    assert "0.1/8 used" in out  # cpus
    assert "32/8192 MiB used" in out  # mem
    raw = json.loads(ok(cluster, "cluster", "state", "--json"))
    assert raw["id"] == state["id"] and len(raw["slaves"]) == 2


# ----------------------------------------------------------------------------------------------
# tasks


def test_task_list_shows_the_launched_task(cluster: Cluster, sched: RawScheduler) -> None:
    out = ok(cluster, "task", "list")
    row = next(line for line in out.splitlines() if "t-cli" in line)
    assert sched.framework_id in row
    assert sched.agent_id in row  # type: ignore[attr-defined]
    assert "TASK_RUNNING" in row
    assert "t-cli" in ok(cluster, "task", "list", "--framework", sched.framework_id or "")
    assert "t-cli" not in ok(cluster, "task", "list", "--framework", "other")
    raw = json.loads(ok(cluster, "task", "list", "--all", "--json"))
    assert [t["state"] for t in raw if t["id"] == "t-cli"] == ["TASK_RUNNING"]


def test_task_log_reads_the_sandbox(cluster: Cluster, sched: RawScheduler) -> None:
    out = wait_for(
        lambda: (o := ok(cluster, "task", "log", "t-cli")).count("line-") == 5 and o,
        10,
        "task stdout",
    )
    assert out.splitlines() == STDOUT_LINES
    assert ok(cluster, "task", "log", "t-cli", "--lines", "2").splitlines() == STDOUT_LINES[-2:]
    assert ok(cluster, "task", "log", "t-cli", "-n", "0") == ""
    assert "to-stderr" in ok(cluster, "task", "log", "t-cli", "--stderr")


def test_task_log_accepts_an_id_prefix_and_a_name(cluster: Cluster, sched: RawScheduler) -> None:
    assert ok(cluster, "task", "log", "t-cl", "--lines", "1").splitlines() == STDOUT_LINES[-1:]
    fid = sched.framework_id or ""
    by_name = ok(cluster, "task", "list", "--framework", "cli-test")  # a framework's name
    assert "t-cli" in by_name
    assert by_name == ok(cluster, "task", "list", "--framework", fid)
    assert "t-cli" in ok(cluster, "task", "list", "--framework", fid.rsplit("-", 1)[1])


def _fits(out: str, columns: int) -> list[str]:
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= columns, out
    return lines


@pytest.mark.parametrize("columns", [80, 120])
def test_narrow_terminals_keep_state_and_name(
    cluster: Cluster, sched: RawScheduler, columns: int
) -> None:
    """No column is dropped: ids shorten (to forms the CLI accepts back), text folds."""
    lines = _fits(ok(cluster, "task", "list", "--all", columns=columns), columns)
    assert lines[0].split() == ["ID", "NAME", "STATE", "FRAMEWORK", "AGENT", "MESSAGE"]
    row = row_of("\n".join(lines), "t-cli")
    assert "RUNNING" in row
    agent_short = "…-" + str(sched.agent_id).rsplit("-", 1)[1]  # type: ignore[attr-defined]
    assert agent_short in row
    lines = _fits(ok(cluster, "node", "list", columns=columns), columns)
    assert lines[0].split()[:3] == ["ID", "ADDRESS", "ACTIVE"]
    assert len([line for line in lines if line.split()[0].endswith(agent_short[1:])]) == 1
    lines = _fits(ok(cluster, "framework", "list", columns=columns), columns)
    assert lines[0].split()[:4] == ["ID", "NAME", "ROLES", "STATE"]
    assert "cli-test" in row_of("\n".join(lines), "cli-test")
    # the short forms work as arguments
    out = ok(cluster, "task", "list", "--framework", row.split()[3], columns=columns)
    assert "t-cli" in out
    assert ok(cluster, "task", "log", row.split()[0], "-n", "1").splitlines() == STDOUT_LINES[-1:]


def test_output_json_and_wide(cluster: Cluster, sched: RawScheduler) -> None:
    for args in (["task", "list"], ["node", "list"], ["framework", "list"], ["quota", "list"]):
        assert json.loads(ok(cluster, *args, "-o", "json")) == json.loads(
            ok(cluster, *args, "--json")
        )
    wide = ok(cluster, "task", "list", "-o", "wide", columns=80)  # wide ignores the terminal
    assert wide.splitlines()[0].split()[-3:] == ["SOURCE", "REASON", "MESSAGE"]
    row = row_of(wide, "t-cli")
    assert sched.framework_id in row and "cli-test" in row and "EXECUTOR" in row
    result = dcos(cluster, "task", "list", "-o", "yaml")
    assert result.exit_code == 2 and "yaml" in result.output


def test_shell_completion(cluster: Cluster, sched: RawScheduler) -> None:
    """`dcos completion SHELL` prints a script; the script's calls complete commands and ids."""
    bash = ok(cluster, "completion", "bash")
    assert "_DCOS_COMPLETE=complete_bash" in bash and "complete -o default -F" in bash
    assert "compdef" in ok(cluster, "completion", "zsh")
    assert "complete --command dcos" in ok(cluster, "completion", "fish")
    assert dcos(cluster, "completion", "tcsh").exit_code == 2
    assert "--install-completion" in ok(cluster, "--help")

    def complete(words: str) -> list[str]:
        proc = run_module(
            env={
                "_DCOS_COMPLETE": "complete_bash",
                "COMP_WORDS": words,
                "COMP_CWORD": str(len(words.split()) - 1),
                "DCOS_URL": cluster.url,
            }
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.split()

    assert "task" in complete("dcos ta")
    assert complete("dcos task log t-c") == ["t-cli"]
    assert complete("dcos framework why cli-") == ["cli-test"]


# ----------------------------------------------------------------------------------------------
# roles and quota


def test_role_weight_then_role_list(cluster: Cluster, sched: RawScheduler) -> None:
    assert "weight of role dev set to 2.5" in ok(cluster, "role", "weight", "dev", "2.5")
    out = ok(cluster, "role", "list")
    row = next(line for line in out.splitlines() if line.split()[:1] == ["dev"])
    assert row.split()[1:3] == ["2.5", "1"]  # weight, frameworks
    raw = json.loads(ok(cluster, "role", "list", "--json"))
    assert {r["name"]: r["weight"] for r in raw}["dev"] == 2.5


def test_quota_set_list_and_remove(cluster: Cluster) -> None:
    out = ok(
        cluster, "quota", "set", "ops", "--guarantee", "cpus=1,mem=256", "--limit", "cpus=2,mem=512"
    )
    assert "quota of role ops" in out
    out = ok(cluster, "quota", "list")
    row = next(line for line in out.splitlines() if line.split()[:1] == ["ops"])
    assert "cpus=1,mem=256" in row and "cpus=2,mem=512" in row
    raw = json.loads(ok(cluster, "quota", "list", "--json"))
    assert raw == [
        {
            "role": "ops",
            "guarantees": {"cpus": {"value": 1.0}, "mem": {"value": 256.0}},
            "limits": {"cpus": {"value": 2.0}, "mem": {"value": 512.0}},
        }
    ]
    row = next(
        line for line in ok(cluster, "role", "list").splitlines() if line.split()[:1] == ["ops"]
    )
    assert "cpus=1,mem=256" in row
    result = dcos(cluster, "quota", "set", "ops", "--guarantee", "cpus=3", "--limit", "cpus=2")
    assert result.exit_code == 1 and "exceed" in result.stderr
    ok(cluster, "quota", "remove", "ops")
    assert "no quota is set" in ok(cluster, "quota", "list")


# ----------------------------------------------------------------------------------------------
# operating nodes


def _row(cluster: Cluster, agent_id: str) -> str:
    return next(line for line in ok(cluster, "node", "list").splitlines() if agent_id in line)


def test_node_deactivate_drain_and_reactivate(cluster: Cluster, sched: RawScheduler) -> None:
    idle = next(s["id"] for s in cluster.state()["slaves"] if s["id"] != sched.agent_id)  # type: ignore[attr-defined]
    assert "deactivated" in ok(cluster, "node", "deactivate", idle)
    assert "no (deactivated)" in _row(cluster, idle)
    assert "2 active" not in ok(cluster, "cluster", "state")
    assert "reactivated" in ok(cluster, "node", "reactivate", idle)
    assert " yes " in _row(cluster, idle)
    assert "draining" in ok(cluster, "node", "drain", idle, "--max-grace-period", "1")
    assert "no (drained)" in _row(cluster, idle)  # no tasks: drained at once
    ok(cluster, "node", "reactivate", idle)
    assert " yes " in _row(cluster, idle)


# ----------------------------------------------------------------------------------------------
# frameworks (teardown last: it ends the task)


def test_framework_list(cluster: Cluster, sched: RawScheduler) -> None:
    out = ok(cluster, "framework", "list")
    row = next(line for line in out.splitlines() if (sched.framework_id or "?") in line)
    assert "cli-test" in row and "dev" in row and "active" in row
    raw: list[dict[str, Any]] = json.loads(ok(cluster, "framework", "list", "--json"))
    assert [f["name"] for f in raw if f["id"] == sched.framework_id] == ["cli-test"]


def test_framework_why_explains_a_suppressed_framework(
    cluster: Cluster, sched: RawScheduler
) -> None:
    fid = sched.framework_id or ""
    sched.send("SUPPRESS", {"roles": ["dev"]})
    out = wait_for(
        lambda: (o := ok(cluster, "framework", "why", fid)) and "SUPPRESSED" in o and o,
        10,
        "a SUPPRESSED reason",
    )
    row = next(line for line in out.splitlines() if "SUPPRESSED" in line)
    assert row.split()[0] == "dev"
    assert "suppressed offers" in row
    raw = json.loads(ok(cluster, "framework", "why", fid, "--json"))
    assert raw["roles"]["dev"]["reason"] == "SUPPRESSED"
    sched.send("REVIVE", {"roles": ["dev"]})


def test_task_list_says_why_tasks_ended(cluster: Cluster, sched: RawScheduler) -> None:
    """The last status' message, reason and source, in /master/state, GET_TASKS and the CLI."""
    release_offers(cluster, sched)
    s = RawScheduler(cluster.master_addr, {"user": "root", "name": "cli-ends"})
    s.subscribe()
    try:
        offer = s.wait_offers()[0]
        tasks = [task_info("t-fail", offer, "exit 3"), task_info("t-killed", offer, "sleep 100")]
        s.launch(offer, tasks)
        wait_all_updates(s, {"t-fail": "TASK_FAILED", "t-killed": "TASK_RUNNING"})
        s.send("KILL", {"task_id": {"value": "t-killed"}, "agent_id": offer["agent_id"]})
        s.wait_update("t-killed", "TASK_KILLED")
        done = {
            t["id"]: t
            for f in cluster.state()["frameworks"]
            if f["id"] == s.framework_id
            for t in f["completed_tasks"]
        }
        last = done["t-fail"]["statuses"][-1]
        assert (last["state"], last["message"], last["reason"], last["source"]) == (
            "TASK_FAILED",
            "Command exited with status 3",
            "REASON_COMMAND_EXECUTOR_FAILED",
            "SOURCE_EXECUTOR",
        )
        killed = done["t-killed"]["statuses"][-1]
        assert killed["state"] == "TASK_KILLED" and killed["source"] == "SOURCE_EXECUTOR"
        assert killed["message"].startswith("Command ")  # how the command ended
        r = cluster.operator({"type": "GET_TASKS"})
        assert r.status_code == 200, r.text
        v1 = {t["task_id"]["value"]: t for t in r.json()["get_tasks"]["completed_tasks"]}
        last = v1["t-fail"]["statuses"][-1]
        assert (last["message"], last["reason"], last["source"]) == (
            "Command exited with status 3",
            "REASON_COMMAND_EXECUTOR_FAILED",
            "SOURCE_EXECUTOR",
        )
        out = ok(cluster, "task", "list", "--all")
        assert row_of(out, "t-fail").split()[2] == "TASK_FAILED"
        assert "Command exited with status 3 (COMMAND_EXECUTOR_FAILED)" in row_of(out, "t-fail")
        assert killed["message"] in row_of(out, "t-killed")
        wide = ok(cluster, "task", "list", "--all", "-o", "wide")
        assert "EXECUTOR   REASON_COMMAND_EXECUTOR_FAILED   Command exited" in row_of(
            wide, "t-fail"
        )
        raw = json.loads(ok(cluster, "task", "list", "--all", "--json"))
        (fail,) = [t for t in raw if t["id"] == "t-fail"]
        assert fail["statuses"][-1]["reason"] == "REASON_COMMAND_EXECUTOR_FAILED"
    finally:
        s.call({"type": "TEARDOWN", "framework_id": {"value": s.framework_id}})
        s.close()


def test_ambiguous_names_list_the_candidates(cluster: Cluster, sched: RawScheduler) -> None:
    result = dcos(cluster, "task", "log", "t-")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("dcos: task 't-' is ambiguous: it is a prefix of the ids of")
    assert any(line.strip().startswith("t-cli  (t-cli, TASK_RUNNING)") for line in lines)
    assert any(line.strip().startswith("t-fail  (t-fail, TASK_FAILED)") for line in lines)
    result = dcos(cluster, "node", "deactivate", "127.0.0.1")  # both agents are on 127.0.0.1
    assert result.exit_code == 1
    assert result.stderr.startswith("dcos: agent '127.0.0.1' is ambiguous: it names 2 agents:")
    for s in cluster.state()["slaves"]:
        assert f"{s['id']}  (127.0.0.1:{s['port']})" in result.stderr
    idle = next(s for s in cluster.state()["slaves"] if s["id"] != sched.agent_id)  # type: ignore[attr-defined]
    end = idle["id"].rsplit("-", 1)[1]
    assert f"agent {idle['id']} deactivated" in ok(cluster, "node", "deactivate", end)
    address = f"127.0.0.1:{idle['port']}"
    assert f"agent {idle['id']} reactivated" in ok(cluster, "node", "reactivate", address)


def test_framework_why_names_the_blocking_resource(cluster: Cluster, sched: RawScheduler) -> None:
    """The issue's case: a framework's tasks need more cpus than any agent has free and it
    declined what is left: `why` says insufficient cpus, per agent, and takes the name."""
    release_offers(cluster, sched, 3600)
    hog = RawScheduler(cluster.master_addr, {"user": "root", "name": "cli-hog"})
    needy = RawScheduler(cluster.master_addr, {"user": "root", "name": "cli-needy"})
    hog.subscribe()
    try:
        offers: dict[str, dict[str, Any]] = {}
        while len(offers) < 2:
            offers.update({o["agent_id"]["value"]: o for o in hog.wait_offers()})
        for i, o in enumerate(offers.values()):
            cpus = next(r["scalar"]["value"] for r in o["resources"] if r["name"] == "cpus")
            hog.launch(o, [task_info(f"hog-{i}", o, "sleep 100", cpus=cpus - 0.3)], 3600)
        wait_all_updates(hog, {"hog-0": "TASK_RUNNING", "hog-1": "TASK_RUNNING"})
        needy.subscribe()
        left: dict[str, dict[str, Any]] = {}
        while len(left) < 2:
            left.update({o["agent_id"]["value"]: o for o in needy.wait_offers()})
        needy.send(
            "DECLINE",
            {"offer_ids": [o["id"] for o in left.values()], "filters": {"refuse_seconds": 3600}},
        )
        out = wait_for(
            lambda: (
                (o := ok(cluster, "framework", "why", "cli-needy"))
                and "INSUFFICIENT_RESOURCES" in o
                and o
            ),
            10,
            "an INSUFFICIENT_RESOURCES reason",
        )
        assert f"framework {needy.framework_id} (cli-needy) got no offers for:" in out
        assert "FILTERED" not in out
        assert "insufficient cpus on 2 agent(s)" in out
        for aid in offers:
            row = row_of(out, aid)
            assert "INSUFFICIENT_RESOURCES" in row
            assert "insufficient cpus: 0.3 of 4 free" in row
        raw = json.loads(ok(cluster, "framework", "why", "cli-needy", "--json"))
        assert raw["framework_id"] == needy.framework_id
        why = raw["roles"]["*"]
        assert (why["reason"], why["scarce"]) == ("INSUFFICIENT_RESOURCES", "cpus")
        assert sorted(a["agent_id"] for a in why["agents"]) == sorted(offers)
        assert all(a["free"]["cpus"] == 0.3 for a in why["agents"])
        ports = {str(s_["port"]) for s_ in cluster.state()["slaves"]}
        assert {a["address"].split(":")[1] for a in why["agents"]} == ports
        narrow = ok(cluster, "framework", "why", "cli-needy", columns=80)
        assert max(len(line) for line in narrow.splitlines()) <= 80
        assert "INSUFFICIENT_RESOURCES" in narrow
    finally:
        for s in (needy, hog):
            if s.framework_id:
                s.call({"type": "TEARDOWN", "framework_id": {"value": s.framework_id}})
            s.close()


def test_task_log_follow_prints_until_the_task_ends(cluster: Cluster, sched: RawScheduler) -> None:
    release_offers(cluster, sched)  # the module's other framework would keep them from this one
    s = RawScheduler(cluster.master_addr)
    s.subscribe()
    try:
        offer = s.wait_offers()[0]
        s.launch(offer, [task_info("t-follow", offer, "echo first; sleep 1.5; echo second")])
        s.wait_update("t-follow", "TASK_RUNNING")
        wait_for(lambda: "first" in ok(cluster, "task", "log", "t-follow"), 10, "first line")
        assert ok(cluster, "task", "log", "t-follow", "--follow") == "first\nsecond\n"
        s.wait_update("t-follow", "TASK_FINISHED")
    finally:
        s.call({"type": "TEARDOWN", "framework_id": {"value": s.framework_id}})
        s.close()


def test_framework_teardown(cluster: Cluster, sched: RawScheduler) -> None:
    fid = sched.framework_id or ""
    assert f"framework {fid} torn down" in ok(cluster, "framework", "teardown", fid)
    assert fid not in ok(cluster, "framework", "list")
    row = next(
        line for line in ok(cluster, "framework", "list", "--all").splitlines() if fid in line
    )
    assert "completed" in row
    out = wait_for(
        lambda: "TASK_KILLED" in (o := ok(cluster, "task", "list", "--all")) and o,
        15,
        "t-cli killed",
    )
    row = row_of(out, "t-cli")
    assert f"Framework {fid} removed (TEARDOWN) (FRAMEWORK_REMOVED)" in row
    assert "t-cli" not in ok(cluster, "task", "list")
    sched.framework_id = None  # already torn down


# ----------------------------------------------------------------------------------------------
# the session: Marathon apps by name, and why an app that does not fit waits


@pytest.fixture
def marathon_cluster(tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(tmp_path, agent_resources="cpus:2;mem:2048;disk:1024;ports:[31000-31999]")
    try:
        c.start(agents=2)
        c.start_marathon()
        yield c
    except BaseException:
        print(c.logs())
        raise
    finally:
        c.stop()


def test_marathon_apps_by_name_and_why_one_waits(marathon_cluster: Cluster) -> None:
    c = marathon_cluster
    apps = [
        {"id": "/web", "cpus": 0.1, "cmd": "echo hello-from-web; sleep 1000"},
        {"id": "/fill", "cpus": 1.4, "instances": 2, "cmd": "sleep 1000"},
    ]
    for app_ in apps:
        r = c.http.post(f"{c.marathon_url}/v2/apps", json={"mem": 32, **app_})
        assert r.status_code == 201, r.text

    def running() -> int:
        return sum(
            t["state"] == "TASK_RUNNING" for f in c.state()["frameworks"] for t in f["tasks"]
        )

    wait_for(lambda: running() == 3, 30, "3 tasks running")
    for ref in ("web", "/web"):  # `dcos task log web` was "not known"
        wait_for(lambda r=ref: "hello-from-web" in ok(c, "task", "log", r), 10, "web's stdout")
    result = dcos(c, "task", "log", "fill")
    assert result.exit_code == 1
    assert result.stderr.startswith("dcos: task 'fill' is ambiguous: it names 2 tasks:")
    # /big needs 1 cpu; the agents have 0.5 and 0.6 left: Marathon declines what it is offered
    r = c.http.post(
        f"{c.marathon_url}/v2/apps", json={"id": "/big", "cpus": 1, "mem": 32, "cmd": "sleep 9"}
    )
    assert r.status_code == 201, r.text
    out = wait_for(
        lambda: "INSUFFICIENT_RESOURCES" in (o := ok(c, "framework", "why", "marathon")) and o,
        20,
        "marathon held back by insufficient cpus",
    )
    assert "(marathon) got no offers for:" in out
    assert "insufficient cpus on 2 agent(s)" in out
    assert "FILTERED" not in out


def test_node_decommission_marks_the_agent_gone(tmp_path: Path) -> None:
    c = Cluster(tmp_path)
    try:
        c.start(agents=2)
        s = RawScheduler(c.master_addr)
        s.subscribe()
        offer = s.wait_offers()[0]
        victim = offer["agent_id"]["value"]
        s.launch(offer, [task_info("t-gone", offer, "sleep 300")])
        s.wait_update("t-gone", "TASK_RUNNING")
        out = ok(c, "node", "decommission", victim.rsplit("-", 1)[1])  # S0 or S1 will do
        assert f"agent {victim} has been marked as gone" in out
        status = s.wait_update("t-gone", "TASK_GONE_BY_OPERATOR", timeout=10)
        assert status["source"] == "SOURCE_MASTER"
        assert victim not in {a["id"] for a in c.state()["slaves"]}
        ok(c, "node", "decommission", victim)  # again: nothing more to do (Mesos answers OK)
        unknown = dcos(c, "node", "decommission", "no-such-agent")
        assert unknown.exit_code == 1 and "no-such-agent" in unknown.stderr
        s.close()
    finally:
        c.stop()
