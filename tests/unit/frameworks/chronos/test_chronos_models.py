"""Chronos and Metronome job models: validation, defaults, JSON forms, chronos-python (pure)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import chronos
import httplib2
import pytest

from dcos_core.errors import InvalidError
from dcos_core.frameworks.chronos.models import (
    Job,
    JobStats,
    JobValidationError,
    MetronomeValidationError,
    format_chronos_time,
    job_from_storage,
    job_to_storage,
    parse_job,
    parse_metronome_job,
    parse_metronome_schedule,
    render_job,
    render_metronome_job,
    render_metronome_schedule,
)
from dcos_core.frameworks.chronos.schedule import CronSchedule, parse_iso8601_schedule

SCHEDULED = {
    "command": "echo 1",
    "name": "myjob",
    "owner": "",
    "disabled": False,
    "schedule": "R0/2014-01-01T00:00:00Z/PT60M",
}

DOCKER_JOB = {  # Chronos docs' Docker example (numbers as strings)
    "schedule": "R/2014-09-25T17:22:00Z/PT2M",
    "name": "dockerjob",
    "container": {
        "type": "DOCKER",
        "image": "libmesos/ubuntu",
        "network": "BRIDGE",
        "volumes": [{"containerPath": "/var/log/", "hostPath": "/logs/", "mode": "RW"}],
    },
    "cpus": "0.5",
    "mem": "512",
    "fetch": [],
    "command": "while sleep 10; do date =u %T; done",
}

SAMPLE_JOB = {  # Chronos docs' "Sample Job", with the read-only counters a client sends back
    "name": "camus_kafka2hdfs",
    "command": "/srv/data-infra/kafka/camus/kafka_hdfs_job.bash",
    "arguments": ["-verbose", "-debug"],
    "shell": False,
    "epsilon": "PT30M",
    "executor": "",
    "executorFlags": "",
    "retries": 2,
    "owner": "bofh@your-company.com",
    "async": False,
    "successCount": 190,
    "errorCount": 3,
    "lastSuccess": "2014-03-08T16:57:17.507Z",
    "lastError": "2014-03-01T00:10:15.957Z",
    "cpus": 1.0,
    "disk": 10240,
    "mem": 1024,
    "disabled": False,
    "fetch": [
        {"uri": "https://url-to-file", "cache": False, "extract": False, "executable": False}
    ],
    "schedule": "R/2014-03-08T20:00:00.000Z/PT2H",
    "environmentVariables": [
        {"name": "JVMOPTS", "value": "-Xmx1000m"},
        {"name": "JAVA_LIBRARY_PATH", "value": "/usr/local/lib"},
    ],
}

DEPENDENT = {
    "command": "bash -x hive_query.bash",
    "epsilon": "PT30M",
    "name": "hostings_earnings_summary",
    "owner": "bob@airbnb.com",
    "parents": ["db_export-airbed_hostings", "db_export-airbed_reservation2s"],
    "retries": 2,
    "async": True,
    "successCount": 100,
    "errorCount": 0,
    "lastError": "",
    "lastSuccess": "2013-03-15T13:02:14.243Z",
}


def assert_refused(body: Any, match: str, **kwargs: Any) -> JobValidationError:
    with pytest.raises(JobValidationError, match=match) as info:
        parse_job(body, **kwargs)
    return info.value


# ---------------------------------------------------------------------------------------------
# Chronos: validation and defaults


def test_defaults() -> None:
    job = parse_job({"name": "j", "command": "true", "schedule": "R/2024-01-01T00:00:00Z/PT1H"})
    assert (job.cpus, job.mem, job.disk) == (0.1, 128, 256)
    assert job.retries == 2 and job.shell and not job.disabled and not job.concurrent
    assert job.epsilon == "PT60S" and job.grace == timedelta(seconds=60)
    assert job.arguments == [] and job.environment_variables == [] and job.container is None
    assert job.schedule_time_zone == "" and job.parents is None and job.owner == ""
    assert job.missed_runs == "catch_up"
    assert not job.is_dependency


def test_zero_or_null_resources_get_defaults_and_strings_are_numbers() -> None:
    job = parse_job({**SCHEDULED, "cpus": 0, "mem": 0.0, "disk": None})
    assert (job.cpus, job.mem, job.disk) == (0.1, 128, 256)
    docker = parse_job(DOCKER_JOB)
    assert (docker.cpus, docker.mem) == (0.5, 512)
    assert_refused({**SCHEDULED, "mem": -1}, "mem")
    assert_refused({**SCHEDULED, "cpus": "lots"}, "cpus")
    assert_refused({**SCHEDULED, "retries": -1}, "retries")


@pytest.mark.parametrize("name", ["a", "my.job-1_x", "SAMPLE_JOB1", "0"])
def test_valid_names(name: str) -> None:
    assert parse_job({**SCHEDULED, "name": name}).name == name


@pytest.mark.parametrize("name", ["job with spaces", "", "a/b", "jöb", "a:b", "tab\there"])
def test_invalid_names(name: str) -> None:
    err = assert_refused({**SCHEDULED, "name": name}, "name")
    assert err.body()["status"] == "Bad Request"
    assert err.body()["message"].startswith(f"name: invalid job name '{name}': expected letters")
    assert isinstance(err, InvalidError)


def test_error_body_shape() -> None:
    err = assert_refused({**SCHEDULED, "schedule": "every day"}, "invalid schedule")
    assert err.body() == {"status": "Bad Request", "message": err.message}
    assert err.body()["message"].startswith("schedule: invalid schedule 'every day': expected")


def test_exactly_one_of_schedule_and_parents() -> None:
    one = "schedule, parents: a job has exactly one of 'schedule' .* and 'parents'"
    assert_refused({**SCHEDULED, "parents": ["a"]}, one)
    assert_refused({"name": "x", "command": "true"}, one)
    assert_refused(
        {"name": "x", "command": "true", "parents": []}, "^parents: .*at least one parent"
    )
    assert_refused(
        {"name": "x", "command": "true", "parents": ["x"]}, "^parents: job 'x' cannot be its own"
    )
    assert_refused(
        {"name": "x", "command": "true", "parents": ["bad name"]}, "invalid parent name 'bad"
    )
    assert_refused(SCHEDULED, "^parents: is required for a dependency job", dependency=True)
    assert_refused(DEPENDENT, "^schedule: is required: expected an ISO 8601", dependency=False)
    assert parse_job(DEPENDENT, dependency=True).parents == DEPENDENT["parents"]
    assert parse_job(SCHEDULED, dependency=False).schedule == SCHEDULED["schedule"]
    # a null counts as absent
    assert parse_job({**SCHEDULED, "parents": None}).parents is None


def test_required_fields_and_shape() -> None:
    assert_refused({"name": "x", "schedule": "R/2024-01-01T00:00:00Z/PT1H"}, "command")
    assert_refused({"command": "x", "schedule": "R/2024-01-01T00:00:00Z/PT1H"}, "name")
    assert_refused(["not", "a", "job"], "JSON object")
    assert_refused({**SCHEDULED, "arguments": "not-a-list"}, "arguments")


INTERVAL = (
    "expected an ISO 8601 repeating interval R[n]/<start>/<period> such as"
    " R/2026-01-01T00:00:00Z/PT1H (R: forever, R5: five times, R0: never)"
)


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (
            "R/garbage/PT1H",
            "schedule: invalid start time 'garbage': expected an ISO 8601 date-time such as"
            " 2026-01-01T00:00:00Z",
        ),
        ("garbage", f"schedule: invalid schedule 'garbage': {INTERVAL}"),
        (
            "R-1/2024-01-01T00:00:00Z/PT1H",
            f"schedule: invalid schedule 'R-1/2024-01-01T00:00:00Z/PT1H': {INTERVAL}",
        ),
        ("R/2024-01-01T00:00:00Z/PT0S", "schedule: invalid period 'PT0S': it must not be zero"),
        (
            "R/2024-01-01T00:00:00Z/PT1X",
            "schedule: invalid period 'PT1X': expected an ISO 8601 duration such as PT30S, PT1H,"
            " P1D or P1W",
        ),
        (
            "R/2024-01-01T00:00:00Z/P0.5D",
            "schedule: invalid period 'P0.5D': days must be whole (write PT12H for half a day)",
        ),
        (
            "R/1969-12-31T23:00:00Z/PT1H",
            "schedule: the start time of 'R/1969-12-31T23:00:00Z/PT1H' is before 1970: expected a"
            " start in 1970 or later",
        ),
    ],
)
def test_bad_schedules_are_400_in_plain_words(schedule: str, message: str) -> None:
    """Issue 13: 'invalid start time 'garbage' (wtf bro)'. The message names the field, what was
    sent and what is expected."""
    err = assert_refused({**SCHEDULED, "schedule": schedule}, "^schedule: ")
    assert err.body() == {"status": "Bad Request", "message": message}
    assert "wtf" not in err.message


def test_schedule_time_zone() -> None:
    job = parse_job({**SCHEDULED, "scheduleTimeZone": "America/New_York"})
    assert job.schedule_time_zone == "America/New_York"
    ri = job.interval()
    assert ri is not None and ri.start.astimezone(UTC) == datetime(2014, 1, 1, 5, tzinfo=UTC)
    err = assert_refused(
        {**SCHEDULED, "scheduleTimeZone": "Mars/Olympus_Mons"}, "unknown time zone"
    )
    assert err.message == (
        "scheduleTimeZone: unknown time zone 'Mars/Olympus_Mons': expected an IANA time zone"
        " name such as Europe/Berlin or America/New_York, or UTC"
    )
    assert parse_job(DEPENDENT).interval() is None


def test_empty_start_is_fixed_at_creation() -> None:
    now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    job = parse_job({**SCHEDULED, "schedule": "R1//PT24H"}, now=now)
    assert job.schedule == "R1/2026-05-01T11:59:59Z/PT24H"
    assert_refused({**SCHEDULED, "schedule": "R1//PT24H"}, "empty start")


def test_epsilon() -> None:
    assert parse_job({**SCHEDULED, "epsilon": "PT15M"}).grace == timedelta(minutes=15)
    assert parse_job({**SCHEDULED, "epsilon": "PT0S"}).grace == timedelta(0)
    assert_refused({**SCHEDULED, "epsilon": "fifteen minutes"}, "epsilon")


def test_read_only_counters_are_accepted_and_ignored() -> None:
    job = parse_job(SAMPLE_JOB)
    rendered = render_job(job)
    assert rendered["successCount"] == 0 and rendered["errorCount"] == 0
    assert rendered["lastSuccess"] == "" and rendered["lastError"] == ""
    assert rendered["errorsSinceLastSuccess"] == 0
    assert job.arguments == ["-verbose", "-debug"] and job.shell is False
    assert [e.name for e in job.environment_variables] == ["JVMOPTS", "JAVA_LIBRARY_PATH"]
    assert job.fetch[0].uri == "https://url-to-file"
    assert "unknownKey" not in render_job(parse_job({**SCHEDULED, "unknownKey": 1}))


def test_containers() -> None:
    c = parse_job(DOCKER_JOB).container
    assert c is not None and (c.type, c.image, c.network) == ("DOCKER", "libmesos/ubuntu", "BRIDGE")
    assert c.volumes[0].container_path == "/var/log/" and c.volumes[0].mode == "RW"
    mesos = parse_job({**SCHEDULED, "container": {"type": "mesos", "image": "alpine"}}).container
    assert mesos is not None and (mesos.type, mesos.network) == ("MESOS", "HOST")
    default_type = parse_job({**SCHEDULED, "container": {"image": "alpine"}}).container
    assert default_type is not None and default_type.type == "DOCKER"
    assert_refused({**SCHEDULED, "container": {"type": "DOCKER"}}, "image")
    assert_refused({**SCHEDULED, "container": {"type": "LXC", "image": "a"}}, "type")


def test_container_info() -> None:
    job = parse_job(
        {
            **SCHEDULED,
            "container": {
                "type": "DOCKER",
                "image": "busybox",
                "forcePullImage": "true",
                "parameters": [{"key": "label", "value": "x"}],
                "volumes": [{"containerPath": "/c", "hostPath": "/h", "mode": "ro"}],
            },
        }
    )
    assert job.container_info() == {
        "type": "DOCKER",
        "docker": {
            "image": "busybox",
            "network": "HOST",
            "force_pull_image": True,
            "parameters": [{"key": "label", "value": "x"}],
        },
        "volumes": [{"container_path": "/c", "host_path": "/h", "mode": "RO"}],
    }
    mesos = parse_job({**SCHEDULED, "container": {"type": "MESOS", "image": "alpine"}})
    assert mesos.container_info() == {
        "type": "MESOS",
        "mesos": {"image": {"type": "DOCKER", "docker": {"name": "alpine"}}},
    }
    assert parse_job(SCHEDULED).container_info() is None


def test_constraints_and_uris() -> None:
    job = parse_job(
        {**SCHEDULED, "constraints": [["rack", "EQUALS", "r1"], ["host", "LIKE", "a.*"]]}
    )
    assert job.constraints == [("rack", "EQUALS", "r1"), ("host", "LIKE", "a.*")]
    assert_refused({**SCHEDULED, "constraints": [["rack", "GROUP_BY", "2"]]}, "constraints")
    assert_refused({**SCHEDULED, "constraints": [["rack", "EQUALS"]]}, "constraints")
    assert parse_job({**SCHEDULED, "uris": ["http://x/y.tgz"]}).uris == ["http://x/y.tgz"]
    assert_refused(
        {**SCHEDULED, "uris": ["http://a"], "fetch": [{"uri": "http://b"}]}, "^uris, fetch: "
    )


def test_missed_runs_policy() -> None:
    assert parse_job({**SCHEDULED, "missedRuns": "skip"}).missed_runs == "skip"
    assert_refused({**SCHEDULED, "missedRuns": "sometimes"}, "missedRuns")


# ---------------------------------------------------------------------------------------------
# Chronos: rendering, storage


def test_render_schedule_job() -> None:
    job = parse_job({**SAMPLE_JOB, "scheduleTimeZone": "Europe/Berlin"})
    stats = JobStats(
        success_count=190,
        error_count=3,
        last_success=datetime(2014, 3, 8, 16, 57, 17, 507000, tzinfo=UTC),
        last_error=None,
        errors_since_last_success=0,
    )
    out = render_job(job, stats)
    assert "parents" not in out and "container" not in out
    assert out["schedule"] == "R/2014-03-08T20:00:00.000Z/PT2H"  # as stored
    assert out["scheduleTimeZone"] == "Europe/Berlin"
    assert out["successCount"] == 190 and out["errorCount"] == 3
    assert out["lastSuccess"] == "2014-03-08T16:57:17.507Z" and out["lastError"] == ""
    assert out["arguments"] == ["-verbose", "-debug"] and out["shell"] is False
    assert out["cpus"] == 1.0 and out["mem"] == 1024 and out["disk"] == 10240
    assert out["environmentVariables"][0] == {"name": "JVMOPTS", "value": "-Xmx1000m"}
    assert out["fetch"] == [
        {"uri": "https://url-to-file", "executable": False, "cache": False, "extract": False}
    ]
    for key in ("name", "command", "owner", "disabled", "retries", "epsilon", "uris", "runAsUser"):
        assert key in out
    json.dumps(out)  # JSON-able


def test_render_dependency_job_and_containers() -> None:
    out = render_job(parse_job(DEPENDENT))
    assert out["parents"] == DEPENDENT["parents"]
    assert "schedule" not in out and "scheduleTimeZone" not in out
    docker = render_job(parse_job(DOCKER_JOB))
    assert docker["container"] == {
        "type": "DOCKER",
        "image": "libmesos/ubuntu",
        "network": "BRIDGE",
        "volumes": [{"hostPath": "/logs/", "containerPath": "/var/log/", "mode": "RW"}],
        "forcePullImage": False,
        "parameters": [],
    }


def test_render_accepts_stats_mapping() -> None:
    out = render_job(
        parse_job(SCHEDULED),
        {"successCount": 2, "lastSuccess": 1_700_000_000.25, "lastError": "", "errorCount": 1},
    )
    assert out["successCount"] == 2 and out["errorCount"] == 1
    assert out["lastSuccess"] == "2023-11-14T22:13:20.250Z" and out["lastError"] == ""
    assert format_chronos_time(None) == ""


@pytest.mark.parametrize("body", [SCHEDULED, DOCKER_JOB, SAMPLE_JOB, DEPENDENT])
def test_render_parse_round_trip(body: dict[str, Any]) -> None:
    job = parse_job(body)
    again = parse_job(json.loads(json.dumps(render_job(job, JobStats(success_count=5)))))
    assert again == job
    assert job_from_storage(json.loads(json.dumps(job_to_storage(job)))) == job


def test_storage_version_checked() -> None:
    with pytest.raises(InvalidError, match="version"):
        job_from_storage({"v": 99, "job": {}})


# ---------------------------------------------------------------------------------------------
# chronos-python 1.2.1 against our JSON (its HTTP transport replaced by a fake)


class FakeChronos:
    """Answers chronos-python's httplib2 requests with our models (the API layer's contract)."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.calls: list[tuple[str, str]] = []

    def request(
        self, uri: str, method: str = "GET", body: str | None = None, headers: Any = None
    ) -> tuple[httplib2.Response, bytes]:
        path = uri.split("://", 1)[1].split("/", 1)[1]
        path = "/" + path.split("?", 1)[0]
        self.calls.append((method, path))
        if method == "POST" and path in ("/v1/scheduler/iso8601", "/v1/scheduler/dependency"):
            try:
                job = parse_job(json.loads(body or "null"), dependency=path.endswith("dependency"))
            except JobValidationError as exc:
                return self._reply(400, exc.body())
            self.jobs[job.name] = job
            return self._reply(204, None)
        if method == "GET" and path == "/v1/scheduler/jobs":
            return self._reply(200, [render_job(j) for j in self.jobs.values()])
        return self._reply(404, {"status": "Not Found", "message": path})

    @staticmethod
    def _reply(status: int, payload: Any) -> tuple[httplib2.Response, bytes]:
        resp = httplib2.Response({"status": str(status), "content-type": "application/json"})
        return resp, b"" if payload is None else json.dumps(payload).encode()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeChronos]:
    server = FakeChronos()
    monkeypatch.setattr(httplib2.Http, "request", lambda _self, *a, **kw: server.request(*a, **kw))
    yield server


def test_chronos_python_add_list_update(fake: FakeChronos) -> None:
    client = chronos.connect(["chronos.invalid:4400"])
    assert client.add(dict(SCHEDULED)) is None  # 204 with no body
    assert client.add(dict(DEPENDENT, parents=["myjob"], disabled=False)) is None
    assert fake.calls[:2] == [
        ("POST", "/v1/scheduler/iso8601"),
        ("POST", "/v1/scheduler/dependency"),
    ]
    listed = client.list()
    assert {j["name"] for j in listed} == {"myjob", "hostings_earnings_summary"}
    for job in listed:  # update sends the listed job back whole: must pass both sides' checks
        job["description"] = "updated"
        client.update(job)
    assert all(j.description == "updated" for j in fake.jobs.values())
    assert fake.calls[-1] == ("POST", "/v1/scheduler/dependency")


def test_chronos_python_sees_validation_errors(fake: FakeChronos) -> None:
    client = chronos.connect(["chronos.invalid:4400"])
    with pytest.raises(chronos.ChronosAPIError):
        client.add(dict(SCHEDULED, name="job with spaces"))
    assert "job with spaces" not in fake.jobs
    assert parse_job(dict(SCHEDULED, name="ok")).name == "ok"


def test_rendered_job_passes_chronos_python_client_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    # legacy mode appends "async" to the class-level field list: keep that from leaking
    monkeypatch.setattr(chronos.ChronosJob, "fields", list(chronos.ChronosJob.fields))
    client = chronos.ChronosClient("chronos.invalid:4400")
    for body in (SCHEDULED, DOCKER_JOB, DEPENDENT):
        assert client._check_fields(render_job(parse_job(body))) is True
    legacy = chronos.ChronosClient("chronos.invalid:4400", scheduler_api_version=None)
    assert legacy._check_fields(render_job(parse_job(SCHEDULED))) is True  # needs "async"


# ---------------------------------------------------------------------------------------------
# Metronome

METRONOME_JOB = {  # Metronome's v1/examples/job.json
    "description": "Example Application",
    "id": "prod.example.app",
    "labels": {"location": "olympus", "owner": "zeus"},
    "schedules": [],
    "run": {
        "artifacts": [
            {"uri": "http://foo.example.com/application.zip", "extract": True, "executable": True}
        ],
        "cmd": "nuke --dry --master local",
        "cpus": 1.5,
        "mem": 32,
        "disk": 128,
        "docker": {"image": "foo/bla:test"},
        "env": {"MON": "test", "CONNECT": "direct"},
        "maxLaunchDelay": 3600,
        "networks": [{"name": "calico", "mode": "container"}],
        "placement": {"constraints": [{"attribute": "rack", "operator": "EQ", "value": "rack-2"}]},
        "restart": {"activeDeadlineSeconds": 120, "policy": "NEVER"},
        "user": "root",
        "volumes": [{"containerPath": "/mnt/test", "hostPath": "/etc/guest", "mode": "RW"}],
    },
}

SCHEDULE = {  # Metronome's v1/examples/schedule.json
    "id": "everyminute",
    "cron": "* * * * *",
    "concurrencyPolicy": "ALLOW",
    "enabled": True,
    "startingDeadlineSeconds": 60,
    "timezone": "America/Chicago",
}


def assert_metronome_refused(body: Any, path: str) -> dict[str, Any]:
    with pytest.raises(MetronomeValidationError) as info:
        parse_metronome_job(body)
    out = info.value.body()
    assert out["message"] == "Object is not valid"
    assert path in [d["path"] for d in out["details"]], out
    return out


def test_metronome_example_job_round_trip() -> None:
    job = parse_metronome_job(METRONOME_JOB)
    assert job.run.cpus == 1.5 and job.run.docker is not None
    assert job.run.restart.active_deadline_seconds == 120 and job.run.max_launch_delay == 3600
    out = render_metronome_job(job)
    assert out["run"]["artifacts"] == METRONOME_JOB["run"]["artifacts"]  # unmodelled keys kept
    assert out["run"]["placement"] == METRONOME_JOB["run"]["placement"]
    assert parse_metronome_job(json.loads(json.dumps(out))) == job
    assert "schedules" not in render_metronome_job(job, embed_schedules=False)


def test_metronome_schedule_defaults_and_example() -> None:
    s = parse_metronome_schedule(SCHEDULE)
    assert s.cron_schedule() == CronSchedule("* * * * *", "America/Chicago")
    assert render_metronome_schedule(s) == SCHEDULE
    d = parse_metronome_schedule({"id": "nightly", "cron": "0 2 * * *"})
    assert (d.timezone, d.starting_deadline_seconds, d.concurrency_policy, d.enabled) == (
        "UTC",
        900,
        "ALLOW",
        True,
    )
    assert d.deadline == timedelta(seconds=900)
    job = parse_metronome_job({**METRONOME_JOB, "schedules": [SCHEDULE]})
    assert render_metronome_job(job)["schedules"] == [SCHEDULE]


@pytest.mark.parametrize("job_id", ["Prod", "prod..app", "-prod", "prod-", "prod_app", "", "a/b"])
def test_metronome_bad_ids(job_id: str) -> None:
    assert_metronome_refused({**METRONOME_JOB, "id": job_id}, "/id")


def test_metronome_validation_paths() -> None:
    run = METRONOME_JOB["run"]
    assert isinstance(run, dict)
    assert_metronome_refused({**METRONOME_JOB, "run": {**run, "mem": 16}}, "/run/mem")
    assert_metronome_refused({"id": "a"}, "/run")
    no_cpus = {k: v for k, v in run.items() if k != "cpus"}
    assert_metronome_refused({**METRONOME_JOB, "run": no_cpus}, "/run/cpus")
    assert_metronome_refused(
        {**METRONOME_JOB, "run": {**run, "restart": {"policy": "ALWAYS"}}}, "/run/restart/policy"
    )
    nothing = {"cpus": 1, "mem": 64, "disk": 0}
    assert_metronome_refused({**METRONOME_JOB, "run": nothing}, "/run")
    sched = [{**SCHEDULE, "cron": "61 * * * *"}]
    assert_metronome_refused({**METRONOME_JOB, "schedules": sched}, "/schedules/0/cron")
    sched = [{**SCHEDULE, "timezone": "Mars/Olympus_Mons"}]
    assert_metronome_refused({**METRONOME_JOB, "schedules": sched}, "/schedules/0/timezone")
    sched = [{**SCHEDULE, "concurrencyPolicy": "REPLACE"}]
    assert_metronome_refused(
        {**METRONOME_JOB, "schedules": sched}, "/schedules/0/concurrencyPolicy"
    )
    sched = [{**SCHEDULE, "startingDeadlineSeconds": 0}]
    assert_metronome_refused(
        {**METRONOME_JOB, "schedules": sched}, "/schedules/0/startingDeadlineSeconds"
    )
    assert_metronome_refused({**METRONOME_JOB, "schedules": [SCHEDULE, SCHEDULE]}, "/schedules")
    with pytest.raises(MetronomeValidationError):
        parse_metronome_schedule({"id": "x"})
    with pytest.raises(MetronomeValidationError):
        parse_metronome_job([])


def test_schedule_of_a_job_is_usable() -> None:
    job = parse_job(
        {**SCHEDULED, "schedule": "R/2026-03-20T02:30:00/P1D", "scheduleTimeZone": "Europe/Berlin"}
    )
    ri = job.interval()
    assert ri == parse_iso8601_schedule("R/2026-03-20T02:30:00/P1D", "Europe/Berlin")
