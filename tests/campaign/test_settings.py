"""A campaign failure prints the command that replays it: every setting that shapes the
schedule (steps, quiet periods, kill rate, profile) is in it."""

from __future__ import annotations

from causeway.sandbox.campaign import Settings


def test_the_replay_command_names_every_schedule_setting() -> None:
    settings = Settings(seed=11, steps=50, quiet_every=10, kill_rate=0.35)
    assert settings.replay_command() == (
        "python -m causeway.sandbox.campaign --seed 11 --steps 50 --quiet-every 10 --kill-rate 0.35"
    )


def test_the_rough_profile_fails_more_and_says_so_in_its_replay() -> None:
    plain = Settings(seed=1003, steps=120, quiet_every=20)
    rough = plain.roughly()
    assert rough.replay_command().endswith("--rough")
    assert rough.aws_rate > plain.aws_rate and rough.kube_write_rate > plain.kube_write_rate
    assert (rough.seed, rough.steps, rough.kill_rate) == (plain.seed, plain.steps, plain.kill_rate)


def test_the_standby_profile_says_so_in_its_replay() -> None:
    standby = Settings(seed=7, steps=30, standby=True)
    assert standby.replay_command().endswith("--kill-rate 0.35 --standby")
