"""The abstract component kinds; the core knows no concrete one."""

from diffkit.interfaces.continuous import ContinuousProcess
from diffkit.interfaces.dataset import Dataset, ImageData, PointData
from diffkit.interfaces.denoiser import Denoiser
from diffkit.interfaces.ema import EMA
from diffkit.interfaces.known_density import KnownDensity
from diffkit.interfaces.launcher import Job, Launcher, Report
from diffkit.interfaces.loss import Loss
from diffkit.interfaces.metric import Metric, MetricContext
from diffkit.interfaces.process import CLEAN, Level, NoiseProcess, broadcast
from diffkit.interfaces.run import RunContext
from diffkit.interfaces.sampler import Sampler
from diffkit.interfaces.scheduler import Scheduler, extract
from diffkit.interfaces.time_embedding import TimeEmbedding
from diffkit.interfaces.timesteps import SPACINGS, check_spacing, karras_sigmas, spaced_timesteps
from diffkit.interfaces.trajectory import GuidanceFn, ModelFn, Trajectory
from diffkit.interfaces.weighting import WEIGHTINGS, WeightedLoss, min_snr_weight

#: kind name (as used in configs and `diffkit plugins --kind`) -> base class.
KINDS: dict[str, type] = {
    "scheduler": NoiseProcess,
    "time_embedding": TimeEmbedding,
    "denoiser": Denoiser,
    "loss": Loss,
    "sampler": Sampler,
    "dataset": Dataset,
    "metric": Metric,
    "launcher": Launcher,
    "ema": EMA,
}

__all__ = [
    "CLEAN",
    "KINDS",
    "SPACINGS",
    "WEIGHTINGS",
    "ContinuousProcess",
    "Dataset",
    "Denoiser",
    "EMA",
    "GuidanceFn",
    "ImageData",
    "Job",
    "KnownDensity",
    "Launcher",
    "Level",
    "Loss",
    "Metric",
    "MetricContext",
    "Report",
    "RunContext",
    "ModelFn",
    "NoiseProcess",
    "PointData",
    "Sampler",
    "Scheduler",
    "TimeEmbedding",
    "Trajectory",
    "WeightedLoss",
    "broadcast",
    "check_spacing",
    "extract",
    "karras_sigmas",
    "min_snr_weight",
    "spaced_timesteps",
]
