"""The abstract component kinds; the core knows no concrete one."""

from diffkit.interfaces.dataset import Dataset, ImageData
from diffkit.interfaces.denoiser import Denoiser
from diffkit.interfaces.launcher import Launcher, Report
from diffkit.interfaces.loss import Loss
from diffkit.interfaces.metric import Metric, MetricContext
from diffkit.interfaces.sampler import GuidanceFn, ModelFn, Sampler
from diffkit.interfaces.scheduler import Scheduler, extract
from diffkit.interfaces.time_embedding import TimeEmbedding

#: kind name (as used in configs and `diffkit plugins --kind`) -> base class.
KINDS: dict[str, type] = {
    "scheduler": Scheduler,
    "time_embedding": TimeEmbedding,
    "denoiser": Denoiser,
    "loss": Loss,
    "sampler": Sampler,
    "dataset": Dataset,
    "metric": Metric,
    "launcher": Launcher,
}

__all__ = [
    "KINDS",
    "Dataset",
    "Denoiser",
    "GuidanceFn",
    "ImageData",
    "Launcher",
    "Loss",
    "Metric",
    "MetricContext",
    "Report",
    "ModelFn",
    "Sampler",
    "Scheduler",
    "TimeEmbedding",
    "extract",
]
