"""The training loop: setup -> begin -> (step -> log -> sample -> save)* -> finish -> end.

The phases live in ``runner/setup.py``, ``runner/step.py`` and ``runner/phases.py``;
this module only orders them, handles the ways a run stops, and holds the run's lock."""

from __future__ import annotations

from pathlib import Path

from diffkit.config import Composed
from diffkit.errors import PluginHookError
from diffkit.plugin_manager import Plugins
from diffkit.runner import lock
from diffkit.runner.phases import begin, end, finish, finished_before, log, sample, save, say_interrupted
from diffkit.runner.profile import StepProfiler
from diffkit.runner.progress import Progress
from diffkit.runner.setup import Training, setup
from diffkit.runner.step import train_step
from diffkit.runner.stop import StopSignal


def train(
    composed: Composed, plugins: Plugins, *, resume: Path | None = None, stem: str = "run", allow_changes: bool = False
) -> Path:
    """Train from a composed config (or continue the run at `resume`; `allow_changes`:
    let overrides change what its checkpoint means, see ``runner/resume.py``); return the run dir.

    The signal handlers are installed first (until the first step a signal stops at once)
    and the run directory is created complete (config and status) in one rename, so a
    signal at any moment leaves either no run directory or one that ``--resume`` continues.
    The process holds the run's lock (``runner/lock.py``) while it writes."""
    stop = StopSignal(starting=True)
    stop.install()
    try:
        with lock.scope():
            t = setup(composed, plugins, resume, stem, allow_changes, stop)
            if finished_before(t):
                t.env.close()
            else:
                loop(t)
            return t.dir
    finally:
        stop.restore()


def loop(t: Training) -> str:
    """Train `t` to its planned steps (``train.steps`` or ``train.budget``, see
    ``runner/budget.py``) or to a stop signal; return how the run ended."""
    begin(t)
    t.stop.starting = False  # from here a signal finishes the step and saves
    tc, plan, status = t.tc, t.plan, "failed"
    progress = Progress(plan.total, t.run.step, tc.progress and t.env.is_main)
    profiler = StepProfiler(tc.profile and t.env.is_main, t.dir, t.device)
    t.model.train()
    plan.start(t.run.step)  # a time budget counts from here
    try:
        while t.run.step < plan.steps:
            train_step(t)
            profiler.step()
            step = t.run.step
            if plan.after_step(step):  # a time budget has just been measured: its steps are fixed
                progress.set_total(plan.steps)
                plan.size_ema(t.ema)
            # DDP: the ranks agree on a signal at log steps, so that all stop after the same step
            stopping = t.env.any_true(bool(t.stop.signum), at=step % tc.log_every == 0)
            at_end = step == plan.steps or stopping
            logged = step % tc.log_every == 0 or step == plan.steps  # on a signal the checkpoint keeps the window
            if logged:
                log(t)
            progress.update(step, f"loss {t.last_loss:.4f}" if logged else None)
            if tc.sample_every and step % tc.sample_every == 0 and not at_end:
                sample(t)
            if (tc.checkpoint_every and step % tc.checkpoint_every == 0) or at_end:
                save(t)
                t.env.barrier()
            if stopping:
                status = "interrupted"
                break
        else:
            finish(t)
            status = "completed"
    except PluginHookError as e:  # keep the steps since the last checkpoint; the plugin is switched off
        if e.hook != "diffkit_checkpoint_save" and t.run.step > t.last_saved and not t.env.enabled:
            save(t)
            raise PluginHookError(f"{e}; saved step {t.run.step} in {t.dir}", e.plugin, e.hook) from e.__cause__
        raise
    except KeyboardInterrupt:  # a second signal: stopped without saving; the last checkpoint resumes
        status = "interrupted"
        raise
    except RuntimeError as e:
        lost = t.env.peer_lost(e, t.run.step)
        if lost is not None:
            raise lost from e
        raise
    finally:
        progress.close()
        profiler.close()
        end(t, status)
        t.env.close()
    if status == "interrupted":
        say_interrupted(t)
    return status
