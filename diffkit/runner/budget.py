"""A run's length as a plan: ``train.steps``, or ``train.budget`` turned into steps.

An image budget is exact from the start: steps = ceil(images / global batch). A time budget
is measured: the run trains `SKIP` steps (compilation, allocator and cache warm-up: their
time counts against the budget but not towards the speed), times the next steps, at least
`MEASURE` of them and at least `MEASURE_FRACTION` of the budget's seconds (a few steps of a
small network are too short a sample of the machine's speed), then fixes the total so that
training ends on time,

    total = M + floor((budget - elapsed) / seconds_per_step),   M = the steps done so far,

The first steps of a session are often slower or faster than the rest (caches, allocator,
a neighbour's load), and a shared machine drifts during a run, so the plan is checked again
and again: `REPLAN_FRACTION` of the remaining steps after each fix, the speed of the steps
since the last fix or check replaces the one before and the total is fixed again by the same
rule (the lr schedule, warm-up and EMA follow it), until fewer than `MEASURE` steps would lie
between two checks. The plan is stored in every checkpoint, so a resumed run continues it.
A machine that slows down after the last check overruns the budget by as much.
Until then the lr follows the warm-up ramp of a provisional total from the speed so far.
The lr schedule, warm-up (a fraction of the total) and EMA half-life (``ema.half_life_fraction``)
are sized from the planned total. Sample grids and checkpoints taken during training count
against a time budget but are not in the measured steps; the final sample grid and
``eval.metrics`` run after it.

    plan = Plan.from_config(cfg, global_batch)
    lr_schedule = build_lr_schedule(cfg, optimizer, plan)
    while step < plan.steps: ...; step += 1; plan.after_step(step)
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from omegaconf import DictConfig

from diffkit.config.length import Budget, parse_budget

__all__ = ["MEASURE", "MEASURE_FRACTION", "REPLAN_FRACTION", "SKIP", "Budget", "Plan", "parse_budget"]

#: steps left out of the speed measurement, then the fewest steps timed, for a time budget.
SKIP, MEASURE = 2, 8
#: the speed is timed over at least this fraction of a time budget.
MEASURE_FRACTION = 0.05
#: a time budget's plan is checked again this fraction of its remaining steps after each fix.
REPLAN_FRACTION = 0.2
#: ``Plan.steps`` while a time budget is not yet planned: the loop goes on.
UNPLANNED = 2**62


@dataclass
class Plan:
    """How many steps a run trains and why.

    kind: "steps", "images" or "seconds"; amount: of that kind; total: the planned steps
    (None until a time budget is measured); warmup_fraction: warm-up steps / total (None:
    the config's ``optim.warmup_steps`` as given); seconds: training seconds spent so far
    (all sessions); seconds_per_step: the measured speed; planned_at: the step the total
    was fixed at; replan_at: the step it is checked at next (None: not planned yet, or no check
    left); replanned_at: the step of the last check (seconds_per_step is the speed it measured). `clock`, `agree` (rank 0's value on every rank, e.g.
    ``DistEnv.broadcast``) and `sync` (waits for the device's queued work, e.g.
    ``torch.cuda.synchronize``: called before each clock reading while the speed is measured,
    so that asynchronous kernels are timed, not their launches) are not state.
    """

    kind: str
    amount: float
    global_batch: int
    total: int | None = None
    warmup_fraction: float | None = None
    warmup_steps: int = 0
    budget: str | None = None
    seconds: float = 0.0
    seconds_per_step: float | None = None
    planned_at: int | None = None
    replan_at: int | None = None
    replanned_at: int | None = None
    clock: Callable[[], float] = field(default=time.perf_counter, repr=False, compare=False)
    agree: Callable[[Any], Any] = field(default=lambda x: x, repr=False, compare=False)
    sync: Callable[[], None] = field(default=lambda: None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._session_start: float | None = None  # clock at the first step of this session
        self._start_step = 0
        self._seconds_before = self.seconds  # training seconds of earlier sessions
        # (step, clock) at the start and after each of this session's first SKIP steps, and the last
        self._marks: list[tuple[int, float]] = []
        self._last: tuple[int, float] | None = None
        self._count = 0  # steps done in this session
        self._checked: tuple[int, float] | None = None  # (step, clock) of this session's last fix or check

    # -- building ------------------------------------------------------------
    @classmethod
    def from_config(cls, cfg: DictConfig, global_batch: int, **kw: Any) -> Plan:
        """The plan ``train.steps`` or ``train.budget`` asks for (`kw`: clock, agree, sync)."""
        o = cfg.optim
        if cfg.train.get("budget") is None:  # .get: a partial config (a plugin's, a test's) has no budget
            return cls(
                "steps",
                float(cfg.train.steps),
                global_batch,
                total=int(cfg.train.steps),
                warmup_fraction=o.get("warmup_fraction"),
                warmup_steps=int(o.warmup_steps),
                **kw,
            )
        budget = parse_budget(cfg.train.budget)
        plan = cls(
            budget.kind,
            budget.amount,
            global_batch,
            warmup_fraction=o.get("warmup_fraction"),
            warmup_steps=int(o.warmup_steps),
            budget=budget.text,
            **kw,
        )
        if budget.kind == "images":
            plan.total = max(1, math.ceil(budget.amount / global_batch))
        return plan

    def matches(self, state: dict[str, Any]) -> bool:
        """Whether a saved plan (``state_dict()``) is this one's, so a resume may continue it."""
        return (state.get("kind"), state.get("amount"), state.get("global_batch")) == (
            self.kind,
            self.amount,
            self.global_batch,
        )

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue a saved plan: the same budget keeps its total, speed and seconds trained
        (not measured again); another length (the config changed at the resume) keeps only
        the seconds, which count against a new time budget."""
        keys = (
            "total",
            "seconds",
            "seconds_per_step",
            "planned_at",
            "replan_at",
            "replanned_at",
            "warmup_fraction",
            "warmup_steps",
        )
        for key in keys if self.kind != "steps" and self.matches(state) else ("seconds",):
            if key in state:
                setattr(self, key, state[key])
        self._seconds_before = self.seconds

    def state_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("clock"), out.pop("agree"), out.pop("sync")
        return out

    # -- reading ---------------------------------------------------------------
    @property
    def planned(self) -> bool:
        return self.total is not None

    @property
    def steps(self) -> int:
        """The step the loop ends at (a huge number while a time budget is being measured)."""
        return self.total if self.total is not None else UNPLANNED

    def warmup(self, total: int | None) -> int:
        """Warm-up steps for a run of `total` steps (None: unknown, effectively infinite)."""
        if self.warmup_fraction is None:
            return self.warmup_steps
        if total is None:
            return UNPLANNED if self.warmup_fraction > 0 else 0
        return round(self.warmup_fraction * total)

    def schedule_total(self, step: int) -> int | None:
        """The total the lr schedule uses at `step`: the plan, else a provisional one from
        the speed measured so far in this session (None: nothing measured yet)."""
        if self.total is not None:
            return self.total
        rate = self._rate(first=1)
        if rate is None:
            return None
        return step + max(0, int((self.amount - self.elapsed()) / rate))

    def ema_decay(self, decay: float, half_life_fraction: float | None) -> float:
        """``decay``, or the decay whose half-life is `half_life_fraction` of the (provisional) total."""
        total = self.total if self.total is not None else self.schedule_total(self.planned_at or 0)
        if half_life_fraction is None or not total:
            return decay
        return 0.5 ** (1.0 / max(1.0, half_life_fraction * total))

    def size_ema(self, ema: Any) -> None:
        """Tell `ema` (an EMA component or None) the planned last step (``ema.last_step``,
        None until a time budget is measured) and give it a decay sized to this plan when it
        asks for one (``ema.half_life_fraction`` of the exponential EMA); call again once the
        plan is fixed."""
        if ema is None:
            return
        ema.last_step = self.total
        fraction = getattr(ema, "half_life_fraction", None)
        if fraction is not None:
            ema.decay = self.ema_decay(ema.decay, fraction)

    def images_done(self, step: int) -> int:
        return int(step) * self.global_batch

    def elapsed(self) -> float:
        """Training seconds so far: earlier sessions plus this one since its first step."""
        if self._session_start is None:
            return self._seconds_before
        last = self._last[1] if self._last is not None else self._session_start
        return self._seconds_before + last - self._session_start

    def status(self, step: int) -> dict[str, Any]:
        """``{"plan": record(step)}`` for status.json under a budget; nothing for ``train.steps``."""
        return {"plan": self.record(step)} if self.kind != "steps" else {}

    def record(self, step: int) -> dict[str, Any]:
        """What the run did: planned and done steps, images, training seconds (and the budget)."""
        out: dict[str, Any] = {
            "planned_steps": self.total,
            "steps": int(step),
            "images": self.images_done(step),
            "seconds": round(self.elapsed(), 3),
        }
        if self.budget is not None:
            out.update(budget=self.budget, kind=self.kind)
        if self.seconds_per_step is not None:
            out.update(seconds_per_step=round(self.seconds_per_step, 6), planned_at=self.planned_at)
        if self.replanned_at is not None:
            out.update(replanned_at=self.replanned_at)
        return out

    def metrics(self, step: int) -> dict[str, float]:
        """The numbers of `record` as ``train/...`` metrics (metrics.json, ``diffkit_run_end``)
        under a budget; nothing for ``train.steps``."""
        if self.kind == "steps":
            return {}
        out = {"train/images": float(self.images_done(step)), "train/seconds": round(self.elapsed(), 3)}
        if self.total is not None:
            out["train/planned_steps"] = float(self.total)
        return out

    # -- the loop --------------------------------------------------------------
    def start(self, step: int) -> None:
        """Call just before the first step of a session, `step` the steps already done: the
        clock starts (start-up before it does not count against a time budget)."""
        self.sync()
        self._session_start, self._start_step = self.clock(), int(step)
        self._marks, self._last, self._count = [(self._start_step, self._session_start)], None, 0
        self._checked = None

    def after_step(self, step: int) -> bool:
        """Call after each step (`step` = steps done); True when this call fixed the plan or
        changed it. A time budget is planned once `MEASURE` steps after the first `SKIP` of
        this session are timed, and checked at `replan_at`, with the same total on every rank
        (`agree`; both steps are the same on every rank)."""
        if self._session_start is None:
            self.start(step - 1)
        checking = self.total is None or step == self.replan_at
        if checking:
            self.sync()
        self._last, self._count = (step, self.clock()), self._count + 1
        if self._count <= SKIP:
            self._marks.append(self._last)
        self.seconds = self.elapsed()
        if self.total is not None:
            return checking and self._replan(step)
        if self._count < SKIP + MEASURE or not self._measured_long_enough():
            return False
        rate = self._rate(first=SKIP)
        assert rate is not None  # SKIP + MEASURE marks
        self._fix(step, rate)
        self.planned_at = step
        self._next_check(step)
        return True

    def _fix(self, step: int, rate: float) -> int:
        """Set and return total = step + floor((budget - elapsed) / rate), the same on every rank."""
        remaining = self.amount - self.elapsed()
        total, rate = self.agree((step + max(0, int(remaining / rate)), rate))
        self.total, self.seconds_per_step = int(total), float(rate)
        return self.total

    def _next_check(self, step: int) -> None:
        """Check again `REPLAN_FRACTION` of the remaining steps later, unless that is fewer
        than `MEASURE` steps (too short a sample) or past the end."""
        assert self.total is not None
        self._checked = self._last
        after = round(REPLAN_FRACTION * (self.total - step))
        self.replan_at = step + after if after >= MEASURE and step + after < self.total else None

    def _replan(self, step: int) -> bool:
        """Fix the total again from the speed since the last fix or check (in a resumed
        session's first check: since its first `SKIP` steps, when `MEASURE` more were timed);
        True when it changed."""
        self.replan_at = None
        if self._checked is not None:
            mark = self._checked
        elif self._count >= SKIP + MEASURE:
            mark = self._marks[SKIP]
        else:
            return False
        assert self._last is not None
        (s0, t0), (s1, t1) = mark, self._last
        before, self.replanned_at = self.total, step
        changed = self._fix(step, (t1 - t0) / (s1 - s0)) != before
        self._next_check(step)
        return changed

    def _measured_long_enough(self) -> bool:
        """Whether the timed steps cover `MEASURE_FRACTION` of the budget (rank 0 decides, at
        steps every rank reaches together)."""
        if self._count % 2:  # every other step: a collective per step would cost more than it measures
            return False
        (_, t0), (_, t1) = self._marks[SKIP], self._last or self._marks[SKIP]
        return bool(self.agree(t1 - t0 >= MEASURE_FRACTION * self.amount))

    def _rate(self, first: int) -> float | None:
        """Seconds per step over this session's steps after its first `first` steps."""
        if self._session_start is None:
            return None
        if self._last is None or self._count <= first:
            return None
        (s0, t0), (s1, t1) = self._marks[first], self._last
        return (t1 - t0) / (s1 - s0) if s1 > s0 else None
