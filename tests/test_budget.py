"""train.budget: parsing, the steps-vs-budget rule of composition, and the plan (with a fake clock)."""

from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf

from diffkit.config import compose, validate
from diffkit.errors import ConfigError
from diffkit.runner.budget import MEASURE, MEASURE_FRACTION, REPLAN_FRACTION, SKIP, Plan, parse_budget
from diffkit.runner.optim import build_lr_schedule, lr_factor
from tests.conftest import REPO


@pytest.mark.parametrize(
    "text, kind, amount",
    [
        ("90s", "seconds", 90.0),
        ("2m", "seconds", 120.0),
        ("1.5h", "seconds", 5400.0),
        ("4 s", "seconds", 4.0),
        ("2min", "seconds", 120.0),
        ("300000img", "images", 300000.0),
        ("3e5img", "images", 300000.0),
    ],
)
def test_parse_budget_reads_durations_and_images(text, kind, amount):
    budget = parse_budget(text)
    assert (budget.kind, budget.amount, budget.text) == (kind, amount, text.strip())


@pytest.mark.parametrize("bad", ["90", "2x", "-1m", "0s", "1.5img", "", "m", "2m30s"])
def test_parse_budget_refuses_in_one_line_naming_the_key(bad):
    with pytest.raises(ConfigError) as e:
        parse_budget(bad)
    assert str(e.value).startswith(f"train.budget={bad!r} is not allowed; use a duration") and "\n" not in str(e.value)


def test_validate_refuses_a_bad_budget_with_its_source():
    with pytest.raises(ConfigError, match=r"train.budget='2x' is not allowed; .*\(command line\)"):
        validate(compose(None, ["train.budget=2x"]))


def test_a_later_layer_decides_between_steps_and_budget(tmp_path):
    file = tmp_path / "c.yaml"
    file.write_text("train: {steps: 1500, precision: fp32}\n")
    composed = compose(file, ["train.budget=2m"])
    assert (composed.cfg.train.steps, composed.cfg.train.budget) == (None, "2m")
    assert any("replaces train.steps" in n for n in composed.notes)
    assert compose(None, ["train.budget=300000img"]).cfg.train.steps is None  # the default 1200 steps give way
    file.write_text("train: {budget: 2m}\n")
    later = compose(file, ["train.steps=50"]).cfg.train
    assert (later.steps, later.budget) == (50, None)
    saved = OmegaConf.to_container(compose(None, ["train.budget=4s"]).cfg)  # a run's config.yaml, at --resume
    assert compose(None, [], base=saved).cfg.train.budget == "4s"
    assert compose(None, ["train.budget=8s"], base=saved).cfg.train.budget == "8s"


def test_steps_and_budget_in_one_layer_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"train.steps=5 and train.budget='2m' are both set \(command line\)"):
        compose(None, ["train.budget=2m", "train.steps=5"])
    file = tmp_path / "c.yaml"
    file.write_text("train: {steps: 10, budget: 90s}\n")
    with pytest.raises(ConfigError, match=f"both set \\({file}\\)"):
        compose(file)


class FakeClock:
    """`step_seconds[i]` is the duration of step i (the last one repeats)."""

    def __init__(self, step_seconds: list[float]) -> None:
        self.now, self.durations, self.i = 100.0, step_seconds, 0

    def __call__(self) -> float:
        return self.now

    def tick(self) -> None:
        self.now += self.durations[min(self.i, len(self.durations) - 1)]
        self.i += 1


def cfg_for(*overrides: str):
    return compose(None, ["optim.lr_schedule=cosine", *overrides]).cfg


def run(plan: Plan, clock: FakeClock, start: int = 0, stop_at: int | None = None) -> int:
    """The loop's use of a plan: start the clock, step until plan.steps (or `stop_at`)."""
    plan.start(start)
    step = start
    while step < plan.steps and (stop_at is None or step < stop_at):
        clock.tick()
        step += 1
        plan.after_step(step)
    return step


class AsyncDevice:
    """A GPU as the host sees it: a step returns after `launch` s and queues `work` s of kernels;
    the clock shows host time, and `sync` waits for the queue."""

    def __init__(self, launch: float, work: float) -> None:
        self.now, self.busy_until, self.launch, self.work = 100.0, 100.0, launch, work

    def __call__(self) -> float:
        return self.now

    def tick(self) -> None:
        self.busy_until = max(self.busy_until, self.now) + self.work
        self.now += self.launch

    def sync(self) -> None:
        self.now = max(self.now, self.busy_until)


@pytest.mark.parametrize("synced", [True, False])
def test_on_an_asynchronous_device_the_speed_is_that_of_the_kernels_not_their_launches(synced):
    device = AsyncDevice(launch=0.01, work=0.5)
    kw = {"sync": device.sync} if synced else {}
    plan = Plan.from_config(cfg_for("train.budget=20s"), 16, clock=device, **kw)
    run(plan, device)  # type: ignore[arg-type]
    if synced:
        assert plan.seconds_per_step == pytest.approx(0.5)
        device.sync()
        assert device.now - 100.0 == pytest.approx(20.0, abs=0.5)  # the budget, give or take one step
    else:  # what the plan measured before it synchronised: the launch rate, 50x the steps
        assert plan.seconds_per_step == pytest.approx(0.01)


def test_a_small_networks_speed_is_timed_over_a_share_of_the_budget_not_just_a_few_steps():
    clock = FakeClock([2.0, 0.5, 0.25])
    plan = Plan.from_config(cfg_for("train.budget=100s"), 16, clock=clock)
    steps = run(plan, clock)
    assert plan.planned_at == SKIP + round(MEASURE_FRACTION * 100 / 0.25) == 22  # 5 s of 0.25 s steps
    assert steps == plan.total == 22 + int((100 - 2.5 - 5.0) / 0.25)
    assert plan.elapsed() == pytest.approx(100.0)


def test_an_image_budget_is_exact_from_the_start():
    plan = Plan.from_config(cfg_for("train.budget=1000img"), global_batch=64)
    assert plan.total == plan.steps == math.ceil(1000 / 64) and plan.kind == "images"
    assert Plan.from_config(cfg_for("train.steps=7"), 64).total == 7


def test_a_time_budget_leaves_out_the_first_steps_and_ends_on_time():
    clock = FakeClock([2.0, 0.5, 0.25])  # step 0 compiles, step 1 is still warming up
    plan = Plan.from_config(cfg_for("train.budget=10s"), 16, clock=clock)
    assert not plan.planned and plan.steps > 10**9
    steps = run(plan, clock)
    assert plan.planned_at == SKIP + MEASURE and plan.seconds_per_step == pytest.approx(0.25)
    # elapsed at planning: 2 + 0.5 + 8 * 0.25 = 4.5 s; 5.5 s left at 0.25 s a step
    assert plan.total == SKIP + MEASURE + 22 == steps
    assert plan.elapsed() == pytest.approx(10.0)
    assert len(plan._marks) == SKIP + 1  # bounded: a long run keeps no per-step history
    rec = plan.record(steps)
    assert rec == {
        "planned_steps": 32,
        "steps": 32,
        "images": 32 * 16,
        "seconds": 10.0,
        "budget": "10s",
        "kind": "seconds",
        "seconds_per_step": 0.25,
        "planned_at": 10,
    }


def test_a_plan_whose_first_steps_were_slow_is_fixed_again_and_ends_on_time():
    """Measured at 1 s a step (a neighbour's load, cold caches), then 0.5 s: without the
    re-plan the run would stop at about 40 s of a 60 s budget."""
    clock = FakeClock([2.0, 1.0, *[1.0] * MEASURE, 0.5])
    plan = Plan.from_config(cfg_for("train.budget=60s"), 16, clock=clock)
    changed, step = [], 0
    plan.start(0)
    while step < plan.steps:
        clock.tick()
        step += 1
        if plan.after_step(step):
            changed.append((step, plan.total))
    first = SKIP + MEASURE + int((60 - 2 - 1 - MEASURE) / 1.0)  # 59 steps
    replan = SKIP + MEASURE + round(REPLAN_FRACTION * (first - SKIP - MEASURE))  # step 20
    elapsed = 2 + 1 + MEASURE + (replan - SKIP - MEASURE) * 0.5  # 16 s
    assert changed == [(SKIP + MEASURE, first), (replan, replan + int((60 - elapsed) / 0.5))]
    assert plan.elapsed() == pytest.approx(60.0, abs=0.5) and plan.replanned_at > replan  # checked again since
    assert plan.seconds_per_step == pytest.approx(0.5) and plan.record(step)["replanned_at"] == plan.replanned_at
    rerun = Plan.from_config(cfg_for("train.budget=60s"), 16, clock=FakeClock([2.0, 0.5]))
    rerun.load_state_dict(plan.state_dict())
    assert (rerun.total, rerun.replan_at, rerun.replanned_at) == (plan.total, plan.replan_at, plan.replanned_at)


def test_a_machine_that_slows_down_mid_run_is_caught_by_the_later_checks():
    """0.5 s a step until step 40, then 0.75 s: the first check (step 20) still sees 0.5 s, so
    a plan checked only once would train 79 s of a 60 s budget; the checks after it see the
    slower steps and end the run on time."""
    clock = FakeClock([2.0] + [0.5] * 39 + [0.75])
    plan = Plan.from_config(cfg_for("train.budget=60s"), 16, clock=clock)
    run(plan, clock)
    assert plan.elapsed() == pytest.approx(60.0, abs=0.75)  # within one step
    assert plan.seconds_per_step == pytest.approx(0.75) and plan.replanned_at > 40


def test_a_session_resumed_before_the_check_checks_with_its_own_speed():
    clock = FakeClock([2.0, 1.0])
    plan = Plan.from_config(cfg_for("train.budget=60s"), 16, clock=clock)
    run(plan, clock, stop_at=15)  # planned at step 10 (total 59), to be checked at step 20
    assert (plan.total, plan.replan_at) == (59, 20)
    faster = FakeClock([3.0, 0.5])  # a faster machine after the resume; its first SKIP steps are left out
    again = Plan.from_config(cfg_for("train.budget=60s"), 16, clock=faster)
    again.load_state_dict(plan.state_dict())
    again.start(15)
    step = 15
    while step < 20:
        faster.tick()
        step += 1
        assert not again.after_step(step)
    # 5 steps timed here, fewer than SKIP + MEASURE: too few to judge, the plan stays
    assert (again.total, again.replan_at, again.replanned_at) == (59, None, None)
    later = FakeClock([0.5])
    again = Plan.from_config(cfg_for("train.budget=60s"), 16, clock=later)
    again.load_state_dict({**plan.state_dict(), "replan_at": 30})
    assert run(again, later, start=15) == again.total > 59
    assert again.replanned_at >= 30 and again.seconds_per_step == pytest.approx(0.5)


def test_a_short_plan_is_not_checked_again():
    clock = FakeClock([2.0, 0.5, 0.25])
    plan = Plan.from_config(cfg_for("train.budget=10s"), 16, clock=clock)
    run(plan, clock)
    assert plan.replan_at is None and plan.replanned_at is None  # 22 steps after the plan: 4 < MEASURE


def test_a_budget_shorter_than_the_measurement_stops_right_after_it():
    clock = FakeClock([1.0])
    plan = Plan.from_config(cfg_for("train.budget=3s"), 16, clock=clock)
    assert run(plan, clock) == SKIP + MEASURE and plan.total == SKIP + MEASURE


def test_the_lr_schedule_ends_at_the_planned_step():
    clock = FakeClock([2.0, 0.25])
    cfg = cfg_for("train.budget=30s", "optim.warmup_fraction=0.1")
    plan = Plan.from_config(cfg, 16, clock=clock)
    opt = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.5)
    sched = build_lr_schedule(cfg, opt, plan)
    lrs, step = [opt.param_groups[0]["lr"]], 0
    plan.start(0)
    while step < plan.steps:
        clock.tick()
        opt.step()
        sched.step()
        step += 1
        plan.after_step(step)
        lrs.append(opt.param_groups[0]["lr"])
    total = plan.total
    assert total == step == 10 + int((30 - 2 - 9 * 0.25) / 0.25)
    warm = round(0.1 * total)
    assert lrs[0] < 1e-12  # no speed known yet: the ramp of an endless warm-up
    assert max(lrs) == pytest.approx(0.5) and lrs.index(max(lrs)) == warm - 1
    assert all(a <= b + 1e-12 for a, b in zip(lrs[:warm], lrs[1:warm], strict=False))  # the ramp only rises
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)  # cosine ended: lr at the planned end is 0
    assert lrs[-2] > 0 and lrs[warm:] == sorted(lrs[warm:], reverse=True)


def test_a_steps_run_keeps_its_schedule_and_warmup_fraction_sizes_warmup():
    cfg = cfg_for("train.steps=40", "optim.warmup_steps=5")
    opt = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=1.0)
    sched = build_lr_schedule(cfg, opt)
    got = []
    for _ in range(40):
        got.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert got == pytest.approx([lr_factor(s, 5, 40, "cosine") for s in range(40)])
    assert Plan.from_config(cfg_for("train.steps=40", "optim.warmup_fraction=0.25"), 1).warmup(40) == 10
    # a budget that replaces train.steps keeps the warm-up's share of them: 100 of 1500 steps
    budget_cfg = compose(REPO / "configs/cpu/fashion_mnist_flow.yaml", ["train.budget=300img"]).cfg
    assert budget_cfg.optim.warmup_fraction == pytest.approx(100 / 1500, abs=1e-6)
    assert Plan.from_config(budget_cfg, 1).warmup(300) == 20
    assert compose(None, ["train.budget=300img"]).cfg.optim.warmup_fraction is None  # no warm-up to keep


def test_a_resumed_plan_is_continued_not_measured_again():
    clock = FakeClock([2.0, 0.25])
    cfg = cfg_for("train.budget=20s")
    plan = Plan.from_config(cfg, 16, clock=clock)
    run(plan, clock, stop_at=20)  # stopped (a signal) after 20 steps; the checkpoint keeps the plan
    saved = plan.state_dict()
    total, seconds = plan.total, plan.seconds
    slower = FakeClock([5.0, 1.0])  # the resumed session is 4x slower: the plan must not change
    again = Plan.from_config(cfg, 16, clock=slower)
    again.load_state_dict(saved)
    assert again.total == total and again.seconds == seconds
    assert run(again, slower, start=20) == total and again.total == total
    assert again.elapsed() == pytest.approx(seconds + 5.0 + (total - 21) * 1.0)


def test_a_resume_with_another_budget_plans_anew_counting_the_seconds_done():
    clock = FakeClock([2.0, 0.25])
    plan = Plan.from_config(cfg_for("train.budget=20s"), 16, clock=clock)
    run(plan, clock)  # completed: 20 s
    longer = Plan.from_config(cfg_for("train.budget=40s"), 16, clock=FakeClock([0.25]))
    longer.load_state_dict(plan.state_dict())
    assert not longer.planned and longer.seconds == pytest.approx(20.0)
    done = plan.total
    run(longer, longer.clock, start=done)  # type: ignore[arg-type]
    assert longer.planned_at == done + SKIP + MEASURE and longer.total == done + 80  # 20 s left at 0.25 s


def test_the_ema_half_life_is_a_fraction_of_the_planned_steps():
    plan = Plan.from_config(cfg_for("train.budget=64000img"), 64)  # 1000 steps
    decay = plan.ema_decay(0.999, 0.1)
    assert decay**100 == pytest.approx(0.5) and plan.ema_decay(0.999, None) == 0.999


@pytest.mark.parametrize(
    ("config", "scheduler", "batch"),
    [("fashion_mnist.yaml", "edm", 64), ("fashion_mnist_fp32.yaml", "rectified_flow", 32)],
)
def test_the_cpu_recipes_compose_to_a_budget_and_build(plugins, config, scheduler, batch):
    """Both CPU recipes (with and without native bf16) train 28x28 unconditionally for 2m at
    precision auto, and their networks run at 28x28."""
    from diffkit.runner.build import build_components

    composed = compose(REPO / "configs/cpu" / config, [], plugins.registry)
    validate(composed)
    cfg = composed.cfg
    assert (cfg.train.budget, cfg.train.steps, cfg.data.image_size, cfg.train.precision) == ("2m", None, 28, "auto")
    assert (cfg.scheduler.name, cfg.data.batch_size, cfg.train.conditional) == (scheduler, batch, False)
    assert (cfg.sampler.name, cfg.sampler.steps) == ("dpm_solver_pp", 10)
    denoiser = build_components(plugins.registry, cfg, 1, 0).denoiser
    assert denoiser.patch_size == 1 and denoiser.check_image_size(28) is None
    x = torch.randn(2, 1, 28, 28)
    assert denoiser(x, torch.rand(2)).shape == x.shape


def test_a_power_ema_with_a_time_budget_passes_the_pre_flight_check(plugins):
    """train.steps is None under a budget: the snapshot check must not read it (it raised a TypeError)."""
    from diffkit.runner.ema import check_ema

    cfg = compose(None, ["train.budget=2m", "ema={name: power, snapshot_every: 25}"], plugins.registry).cfg
    assert cfg.train.steps is None and check_ema(plugins.registry, cfg) == []


def test_the_ema_learns_the_last_step_once_a_time_budget_fixes_it(tmp_path):
    """A power EMA snapshots the run's last step: unknown (None) under a time budget until
    the speed is measured, then the planned total."""
    from diffkit import ema_snapshots
    from plugins.diffkit_builtin.ema.power import PowerEMA

    clock = FakeClock([1.0, 0.25])
    plan = Plan.from_config(cfg_for("train.budget=5s"), 16, clock=clock)
    model = torch.nn.Linear(2, 2)
    ema = PowerEMA(model, snapshot_every=1000)
    plan.size_ema(ema)
    assert ema.last_step is None
    plan.start(0)
    step = 0
    while step < plan.steps:
        clock.tick()
        step += 1
        ema.update(model, step)
        if plan.after_step(step):
            plan.size_ema(ema)
    assert ema.last_step == plan.total == step
    ema.snapshot(tmp_path, step - 1)
    assert ema_snapshots.readable(tmp_path) == []
    ema.snapshot(tmp_path, step)
    assert [s["step"] for _, s in ema_snapshots.readable(tmp_path)] == [step]
