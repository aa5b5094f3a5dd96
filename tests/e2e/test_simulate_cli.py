"""``spoolwatch simulate`` end to end: JSON output, the plot, the table, bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from spoolwatch.cli import app

runner = CliRunner()


def _simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spoolwatch", "simulate", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_burst_through_the_cli_prints_one_json_document() -> None:
    done = _simulate("--policy", "spoolwatch", "--scenario", "burst-1m", "--seed", "4", "--json")
    assert done.returncode == 0, done.stderr
    document = orjson.loads(done.stdout)
    assert document["scenario"]["name"] == "burst-1m"
    assert document["seed"] == 4
    (result,) = document["results"]
    assert result["policy"] == "spoolwatch"
    assert result["records"] == result["delivered"] == 1_000_000
    assert result["lost"] == 0
    # nothing is received twice in a burst: no look-up of redelivered records, none skipped
    assert result["known_skipped"] == 0
    assert result["extra"]["known_lookups"] == 0
    assert result["drained_at"] > 0
    # a burst at once: the oldest record waited about as long as the drain took
    assert result["age_p50"] <= result["age_p99"] <= result["age_p999"] <= result["age_max"]
    assert result["age_max"] == pytest.approx(result["drained_at"], rel=0.05)
    assert result["cost"]["total"] == pytest.approx(
        sum(v for k, v in result["cost"].items() if k != "total")
    )
    again = _simulate("--policy", "spoolwatch", "--scenario", "burst-1m", "--seed", "4", "--json")
    second = orjson.loads(again.stdout)["results"][0]
    assert {k: v for k, v in second.items() if k != "wall_seconds"} == {
        k: v for k, v in result.items() if k != "wall_seconds"
    }


def test_all_policies_table_and_plot(tmp_path: Path) -> None:
    plot = tmp_path / "burst.png"
    result = runner.invoke(
        app, ["simulate", "--scenario", "burst-1m", "--concurrency", "20", "--plot", str(plot)]
    )
    assert result.exit_code == 0, result.output
    for policy in ("spoolwatch", "recipe", "lambda-esm", "keda", "static"):
        assert policy in result.output
    assert "known" in result.output  # records deleted unsent: the destination had them
    assert plot.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--policy", "nope", "--scenario", "burst-1m"], "unknown policy 'nope'"),
        (["--scenario", "weekly"], "unknown scenario 'weekly'"),
        (["--scenario", "burst-1m", "--seed", "-3"], "--seed must be an integer >= 0"),
        (["--scenario", "burst-1m", "--concurrency", "0"], "--concurrency must be between"),
        (["--scenario", "burst-1m", "--agent-throughput", "0"], "--agent-throughput must be"),
        (["--scenario", "burst-1m", "--schedule", "10"], "--schedule must be between"),
        (["--scenario", "burst-1m", "--params", "fast"], "unknown parameter set 'fast'"),
        (["--scenario", "burst-1m", "--destination", "nope"], "unknown destination 'nope'"),
        (["--scenario", "burst-1m", "--plot", "/no/such/dir/x.png"], "--plot"),
        (["--scenario", "burst-1m", "--plot", "{tmp}/out.jpg"], "must be a .png"),
    ],
)
def test_bad_input_is_refused_with_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["simulate", *(a.format(tmp=tmp_path) for a in args)])
    assert result.exit_code == 2
    assert message in result.output
    assert not list(tmp_path.iterdir())


def test_a_slower_agent_drains_the_burst_later() -> None:
    easy = ("--policy", "static", "--scenario", "burst-1m", "--params", "easy", "--json")
    fast = _simulate(*easy)
    slow = _simulate(*easy, "--agent-throughput", "500")
    assert fast.returncode == slow.returncode == 0, slow.stderr
    fast_drain = orjson.loads(fast.stdout)["results"][0]["drained_at"]
    slow_document = orjson.loads(slow.stdout)
    assert slow_document["params"]["agent_throughput"] == 500
    # four static agents; each record costs 1/500 s of an agent's own work instead of
    # 1/3000 s, on top of the SQS calls and requests that take as long either way
    extra = 1_000_000 / 4 * (1 / 500 - 1 / 3000)
    assert slow_document["results"][0]["drained_at"] > fast_drain + 0.9 * extra


def test_a_destination_with_a_capacity_answers_429s_and_loses_nothing() -> None:
    done = _simulate(
        *("--policy", "spoolwatch", "--scenario", "burst-1m", "--seed", "1", "--json"),
        *("--destination", "sqlite", "--concurrency", "100"),
    )
    assert done.returncode == 0, done.stderr
    document = orjson.loads(done.stdout)
    assert document["params"]["destination"]["name"] == "sqlite"
    (result,) = document["results"]
    assert result["extra"]["destination_429s"] > 0
    assert (result["delivered"], result["lost"], result["duplicates"]) == (1_000_000, 0, 0)


def test_the_outage_through_the_cli_reports_the_crashed_read_deleted_unsent() -> None:
    done = _simulate("--policy", "spoolwatch", "--scenario", "outage", "--seed", "1", "--json")
    assert done.returncode == 0, done.stderr
    (result,) = orjson.loads(done.stdout)["results"]
    assert result["extra"]["crashes"] == 1
    assert (result["duplicates"], result["lost"], result["known_skipped"]) == (0, 0, 100)


def test_missing_scenario_is_a_usage_error() -> None:
    result = runner.invoke(app, ["simulate", "--policy", "static"])
    assert result.exit_code == 2
