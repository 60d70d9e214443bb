"""The Python API of diffkit: what the command line, sweeps and notebooks all use.

import diffkit
run = diffkit.train("configs/cpu/fashion_mnist_flow.yaml", ["optim.lr=2e-3"])
images = run.sample(16)                    # (16, C, H, W) in [-1, 1]
scores = run.evaluate(["fid"], num=1000)
run = diffkit.resume(run.dir, ["train.steps=2000"])
same = diffkit.open_run(run.dir)
"""

from diffkit.api.config import Config, compose
from diffkit.api.run import Run, open_run
from diffkit.api.training import resume, train

__all__ = ["Config", "Run", "compose", "open_run", "resume", "train"]
