"""Each simulated policy behaves as its documentation says."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from spoolwatch.sim.policies import (
    POLICIES,
    KedaPolicy,
    LambdaEsmPolicy,
    RecipePolicy,
    StaticPolicy,
)
from spoolwatch.sim.run import simulate
from spoolwatch.sim.world import SimParams, World


def _world(concurrency: int, backlog: int, **params: object) -> World:
    settings = SimParams(concurrency=concurrency, sample_seconds=1.0, **params)  # type: ignore[arg-type]
    world = World(settings, seed=0)
    world.env.process(world.sampler())
    world.env.process(world.arrivals([(0.0, backlog)]))
    return world


def test_lambda_trigger_goes_from_5_to_1000_concurrent_in_about_3_3_minutes() -> None:
    world = _world(1000, 100_000_000)
    LambdaEsmPolicy(world).start()
    world.env.run(until=260)
    agents = {t: a for t, _, a in world.timeline}
    assert agents[1.0] == 5
    reached = min(t for t, a in agents.items() if a >= 1000)
    assert 190 <= reached <= 210  # (1000 - 5) / 300 per minute = 3.3 min
    assert world.peak_agents == 1000


def test_lambda_trigger_never_exceeds_its_maximum_concurrency() -> None:
    result = simulate("lambda-esm", "burst-1m", seed=2, params=SimParams(concurrency=37))
    assert result.peak_agents == 37


def test_recipe_first_agent_starts_at_the_next_15_minute_tick() -> None:
    world = _world(10, 100_000)
    policy = RecipePolicy(world, schedule_phase=0.5)  # next tick 450 s after the backlog
    policy.start()
    world.env.run(until=1200)
    first = policy.figures()["first_agent_at"]
    assert isinstance(first, float)
    assert 450 <= first < 460  # the tick, plus a cold start
    assert world.queue.acked == 100_000


def test_recipe_stops_everything_for_an_hour_after_an_error() -> None:
    result = simulate("recipe", "outage", seed=0)
    assert result.extra["error_stops"] > 0
    # the outage ends at 1,380 s; the recipe's agents come back only an hour after its error
    assert result.drained_at is not None and result.drained_at > 450 + 3600


def test_recipe_scan_then_put_over_recruits() -> None:
    result = simulate("recipe", "burst-1m", seed=0)
    assert result.over_recruited > result.peak_agents


def test_keda_never_exceeds_its_max_replicas() -> None:
    result = simulate("keda", "burst-1m", seed=1, params=SimParams(concurrency=7))
    assert result.extra["replicas_peak"] == 7
    assert result.peak_agents <= 7
    assert result.delivered == 1_000_000


def test_keda_scales_up_at_most_4_pods_or_double_per_15_seconds() -> None:
    world = _world(100, 1_000_000)
    policy = KedaPolicy(world)
    policy.start()
    world.env.run(until=400)
    counts = [a for t, _, a in world.timeline if t % 15 == 1]
    for before, after in itertools.pairwise(counts):
        assert after <= max(2 * before, before + 4, 1)
    assert max(counts) > 10


def test_static_runs_exactly_n_agents_all_the_time() -> None:
    world = _world(10, 200_000, static_agents=3)
    StaticPolicy(world).start()
    world.env.run(until=600)
    world.finish()
    assert {a for t, _, a in world.timeline if t > 0} == {3}
    assert world.agent_seconds == pytest.approx(3 * 600)
    assert world.ledger.pod_seconds == pytest.approx(3 * 600)


def test_lambda_trigger_loses_records_to_the_dead_letter_queue_in_the_outage() -> None:
    result = simulate("lambda-esm", "outage", seed=0)
    assert result.extra["backoff_ticks"] > 0
    assert result.lost > 0


def test_a_crash_between_send_and_delete_gives_one_read_batch_of_duplicates() -> None:
    # the recipe's agents send what comes back again; keda's pods run spoolwatch's agent,
    # which asks the destination first and deletes the crashed read unsent
    recipe = simulate("recipe", "outage", seed=0)
    assert recipe.extra["crashes"] == 1
    assert 0 < recipe.duplicates <= 500
    keda = simulate("keda", "outage", seed=0)
    assert keda.extra["crashes"] == 1
    assert keda.duplicates == 0
    assert keda.known_skipped is not None and 0 < keda.known_skipped <= 500


def test_the_same_seed_gives_the_same_figures() -> None:
    for policy in POLICIES:
        # the outage: traffic, a crash, retries, the breaker and (spoolwatch) agents stopping
        first = simulate(policy, "outage", seed=5).as_dict(timeline=True)
        second = simulate(policy, "outage", seed=5).as_dict(timeline=True)
        first.pop("wall_seconds")
        second.pop("wall_seconds")
        assert first == second, policy


def test_another_seed_gives_other_traffic() -> None:
    first = simulate("lambda-esm", "spiky", seed=1)
    second = simulate("lambda-esm", "spiky", seed=2)
    assert first.records != second.records


def test_every_policy_delivers_the_whole_burst() -> None:
    for policy in POLICIES:
        result = simulate(policy, "burst-1m", seed=0)
        assert result.delivered == 1_000_000, policy
        assert result.lost == 0 and result.remaining == 0, policy
        assert result.drained_at is not None and result.drained_at > 0, policy


def test_unknown_policy_scenario_or_negative_seed_is_refused() -> None:
    from spoolwatch.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown policy"):
        simulate("nope", "burst-1m")
    with pytest.raises(ConfigError, match="unknown scenario"):
        simulate("static", "nope")
    with pytest.raises(ConfigError, match="seed"):
        simulate("static", "burst-1m", seed=-1)


def test_results_serialise_without_the_timeline_by_default() -> None:
    result = simulate("static", "burst-1m", seed=0)
    fields = result.as_dict()
    assert "timeline" not in fields
    assert set(fields["cost"]) == {"compute", "requests", "sqs", "dynamodb", "total"}
    assert dataclasses.is_dataclass(result)
