"""The exact tier's maths: the mixture's density and score, W2, the score error and the ODE
likelihood against closed forms; each check is also run on a deliberately broken variant
(a mutant), which it must reject."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from diffkit.interfaces import MetricContext
from diffkit.interfaces.known_density import oracle
from diffkit_builtin.datasets.checkerboard import Checkerboard
from diffkit_builtin.datasets.gmm2d import GaussianMixture
from diffkit_builtin.datasets.moons import Moons
from diffkit_builtin.metrics import likelihood
from diffkit_builtin.metrics.score_error import ScoreError
from diffkit_builtin.metrics.w2 import wasserstein2
from diffkit_builtin.schedulers.edm import EDMProcess
from diffkit_builtin.schedulers.linear import LinearScheduler
from diffkit_builtin.schedulers.rectified_flow import RectifiedFlow

MIXTURE = {"means": [[1.0, 0.0], [-0.5, 0.8], [0.0, -1.0]], "stds": [0.1, 0.3, 0.2], "weights": [0.5, 0.3, 0.2]}
#: noise levels (alpha, sigma) the density checks visit: the data, a VP level, a VE level, pure noise.
LEVELS = [(1.0, 0.0), (0.8, 0.6), (1.0, 2.0), (0.0, 1.0)]


# -- the mixture: density, score, sampling ---------------------------------------------------
class WrongVariance(GaussianMixture):
    """Mutant: the noised variance alpha^2 s^2 + sigma (sigma not squared)."""

    def _components(self, x, alpha, sigma):
        return super()._components(x, alpha, torch.as_tensor(sigma, dtype=torch.float64).sqrt())


class ComponentMeansOnly(GaussianMixture):
    """Mutant: E[x_0 | x_t] as the responsibilities' mix of the means (the pull within a component lost)."""

    def posterior_mean(self, x, alpha=1.0, sigma=0.0):
        logn, _, _ = self._components(x, alpha, sigma)
        return (logn.softmax(1) @ self.means).to(x.dtype)


class Unnormalised(GaussianMixture):
    """Mutant: weights left unnormalised in the density."""

    def log_prob(self, x, alpha=1.0, sigma=0.0):
        return super().log_prob(x, alpha, sigma) + math.log(2.0)


def moments(density: GaussianMixture, alpha: float, sigma: float) -> tuple[float, Tensor, Tensor]:
    """int p_t, int x p_t and int x x^T p_t by the midpoint rule on a grid wide enough for the level."""
    half, n = 3.0 * alpha + 8 * max(sigma, 0.3), 400
    ticks = torch.linspace(-half, half, n + 1, dtype=torch.float64)
    mid = (ticks[1:] + ticks[:-1]) / 2
    grid = torch.cartesian_prod(mid, mid)
    p = density.log_prob(grid, alpha, sigma).exp() * (2 * half / n) ** 2
    return float(p.sum()), (p[:, None] * grid).sum(0), (p[:, None, None] * grid[:, :, None] * grid[:, None, :]).sum(0)


def mixture_moments(density: GaussianMixture) -> tuple[Tensor, Tensor]:
    """The data's mean sum_k w_k mu_k and covariance sum_k w_k (s_k^2 I + mu_k mu_k^T) - m m^T."""
    w, mu, s2 = density.weights, density.means, density.stds.square()
    mean = (w[:, None] * mu).sum(0)
    second = (
        w[:, None, None] * (s2[:, None, None] * torch.eye(2, dtype=torch.float64) + mu[:, :, None] * mu[:, None, :])
    ).sum(0)
    return mean, second - mean[:, None] * mean[None, :]


def density_errors(density: GaussianMixture) -> dict[str, float]:
    """The mixture's checks, each an error that is ~0 for the exact formulas: normalisation and
    the noised moments (numerical quadrature: x_t = alpha x_0 + sigma eps has mean alpha m and
    covariance alpha^2 C + sigma^2 I), score = grad log p (autograd) at sigma > 0, and the
    sample moments against the mixture's closed-form mean and covariance (in standard errors)."""
    mean, cov = mixture_moments(density)
    errors = {"normalised": 0.0, "noised_moments": 0.0}
    for a, s in LEVELS:
        total, first, second = moments(density, a, s)
        cov_t = second - first[:, None] * first[None, :]
        errors["normalised"] = max(errors["normalised"], abs(total - 1))
        errors["noised_moments"] = max(
            errors["noised_moments"],
            float((first - a * mean).abs().max()),
            float((cov_t - a**2 * cov - s**2 * torch.eye(2, dtype=torch.float64)).abs().max()),
        )
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    worst = 0.0
    for a, s in LEVELS[1:]:
        xg = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(density.log_prob(xg, a, s).sum(), xg)
        worst = max(worst, float((density.score(x, a, s) - grad).abs().max()))
    errors["score"] = worst
    pts = density.draw(40000, torch.Generator().manual_seed(1)).double()
    se = (cov.diagonal() / pts.shape[0]).sqrt()
    errors["sample_mean"] = float(((pts.mean(0) - mean).abs() / se).max()) / 5  # > 1: beyond 5 standard errors
    errors["sample_cov"] = float((torch.cov(pts.T) - cov).abs().max()) / 0.02
    return errors


TOLERANCE = {"normalised": 1e-6, "noised_moments": 1e-6, "score": 1e-8, "sample_mean": 1.0, "sample_cov": 1.0}


def test_the_mixture_is_exact():
    errors = density_errors(GaussianMixture(**MIXTURE))
    for key, value in errors.items():
        assert value < TOLERANCE[key], (key, value)


@pytest.mark.parametrize(
    "mutant, caught", [(WrongVariance, "noised_moments"), (ComponentMeansOnly, "score"), (Unnormalised, "normalised")]
)
def test_the_mixture_checks_catch_a_broken_formula(mutant, caught):
    errors = density_errors(mutant(**MIXTURE))
    assert errors[caught] > TOLERANCE[caught], errors


def test_point_datasets_are_deterministic_splits():
    for dataset in (
        GaussianMixture(num_train=300, num_test=100),
        Moons(num_train=300, num_test=100),
        Checkerboard(num_train=300, num_test=100),
    ):
        train, again, test = dataset.load("train"), dataset.load("train"), dataset.load("test")
        assert train.kind == "points" and train.sample_shape == (2,) and train.points.dtype == torch.float32
        assert torch.equal(train.points, again.points)
        assert test.points.shape == (100, 2) and not torch.equal(train.points[:100], test.points)
    board = Checkerboard(num_train=2000).load("train").points
    cell = ((board + 1) / 0.5).floor().long()
    assert bool(((cell.sum(1) % 2) == 0).all()) and float(board.abs().max()) <= 1.0


# -- W2 -----------------------------------------------------------------------------------------
def euclidean_cost(x, y):
    """Mutant: W1's cost |x - y| in place of |x - y|^2."""
    import ot

    x, y = x.double().numpy(), y.double().numpy()
    return float(ot.emd2(ot.unif(len(x)), ot.unif(len(y)), ot.dist(x, y, metric="euclidean"))) ** 0.5


def no_square_root(x, y):
    """Mutant: W2^2 reported as W2."""
    return wasserstein2(x, y) ** 2


def per_coordinate(x, y):
    """Mutant: the coordinates transported independently (sorted), summed."""
    return sum(float((x[:, i].sort().values - y[:, i].sort().values).square().mean()) for i in range(x.shape[1])) ** 0.5


def w2_errors(w2) -> dict[str, float]:
    """Identical sets (W2 = 0 up to the round-off of the cost matrix, ~1e-8), a translate (W2 = |c| exactly: the identity coupling is
    optimal for the squared cost), the diagonal (t, t) against the anti-diagonal (s, -s) (every
    coupling costs |(t, t) - (s, -s)|^2 = 2 t^2 + 2 s^2, so W2^2 = 4 mean t^2, while the
    marginals alone would say otherwise) and two Gaussians (W2^2 = |m1 - m2|^2 + D (s1 - s2)^2, up to sampling error)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 2, generator=g, dtype=torch.float64)
    c = torch.tensor([0.3, -0.4], dtype=torch.float64)
    line = torch.linspace(0, 1, 200, dtype=torch.float64)
    diagonal, anti = torch.stack([line, line], 1), torch.stack([line, -line], 1)
    exact_line = float(4 * line.square().mean()) ** 0.5
    a = torch.randn(1500, 2, generator=g, dtype=torch.float64)
    b = torch.randn(1500, 2, generator=g, dtype=torch.float64) * 2.0 + torch.tensor([3.0, 0.0], dtype=torch.float64)
    return {
        "identical": abs(w2(x, x.clone())),
        "translate": abs(w2(x, x + c) - 0.5) / 0.5,
        "diagonals": abs(w2(diagonal, anti) - exact_line) / exact_line,
        "gaussians": abs(w2(a, b) - math.sqrt(9.0 + 2 * 1.0)) / math.sqrt(11.0),
    }


W2_TOLERANCE = {"identical": 1e-6, "translate": 1e-6, "diagonals": 1e-6, "gaussians": 0.03}


def test_w2_matches_closed_forms():
    errors = w2_errors(wasserstein2)
    for key, value in errors.items():
        assert value < W2_TOLERANCE[key], (key, value)


@pytest.mark.parametrize("mutant", [euclidean_cost, no_square_root, per_coordinate])
def test_w2_checks_catch_a_broken_distance(mutant):
    errors = w2_errors(mutant)
    assert any(errors[k] > W2_TOLERANCE[k] for k in errors), errors


# -- score error -------------------------------------------------------------------------------
@pytest.mark.parametrize("process", [LinearScheduler(), EDMProcess(), RectifiedFlow()], ids=["ddpm", "edm", "flow"])
def test_score_error_is_zero_for_the_exact_model_and_the_offset_squared_for_a_biased_one(process):
    """The oracle scores 0; a model whose eps_hat is off by a constant c scores |c|^2 / D exactly."""
    density = GaussianMixture(**MIXTURE)
    exact = oracle(density, process)
    c = torch.tensor([0.3, -0.1])

    def biased(x, t):
        _, eps = process.split_prediction(exact(x, t), x, t)
        a, s = process.alpha_sigma(t)
        return process.target((x - s[:, None] * (eps + c)) / a[:, None].clamp_min(1e-12), eps + c, t)

    real = density.load("test").points
    scores = []
    for model in (exact, biased):
        metric = ScoreError(
            num_points=2048, context=MetricContext("gmm", lambda: None, source=density, model=model, process=process)
        )
        scores.append(metric.compute(real, real)["score_error"])
    assert scores[0] < 1e-8
    assert scores[1] == pytest.approx(float(c.square().sum()) / 2, rel=1e-3)


# -- the ODE likelihood ------------------------------------------------------------------------
def exact_prior(density: GaussianMixture):
    """log p at the top level in y = x / alpha: the true marginal (no prior mismatch)."""
    return lambda y, level: density.log_prob(y.double(), 1.0, level.sigma_ve).double()


def nll_errors(process, density, log_likelihood=likelihood.ode_log_likelihood, steps: int = 32) -> dict[str, float]:
    """Errors of the exact model's ODE log-likelihood against the true log density, each
    divided by its derived tolerance (so >= 1 fails):

    - integrator: with the true marginal as the prior only the integrator errs; Heun is second
      order, so err(N) ~ 4/3 |L_N - L_2N| (Richardson extrapolation); the tolerance is twice
      that estimate (the constant is only asymptotic), plus 1e-3 nats;
    - order: halving the step must cut the error ~4x: a ratio outside (2.5, 6) fails;
    - prior: the sampler's Gaussian prior differs from the true top marginal (the mixture
      gives it exactly) by less than 0.01 nats per point, which is what the metric neglects."""
    x = density.load("test").points[:200]
    true = density.log_prob(x).double()
    model = oracle(density, process)
    coarse = log_likelihood(model, process, x, steps, prior=exact_prior(density))
    fine = log_likelihood(model, process, x, 2 * steps, prior=exact_prior(density))
    tolerance = 2 * 4 / 3 * float((coarse - fine).abs().mean()) + 1e-3
    err_coarse, err_fine = float((coarse - true).abs().mean()), float((fine - true).abs().mean())
    ratio = err_coarse / max(err_fine, 1e-12)
    gaussian = log_likelihood(model, process, x, 2 * steps)
    return {
        "integrator": err_coarse / tolerance,
        "order": 0.0 if 2.5 < ratio < 6 else 2.0,
        "prior": abs(float((gaussian - fine).mean())) / 0.01,
    }


PROCESSES = [LinearScheduler(), EDMProcess(), RectifiedFlow()]


@pytest.mark.parametrize("process", PROCESSES, ids=["ddpm", "edm", "flow"])
def test_nll_of_the_exact_model_is_the_true_log_density(process):
    errors = nll_errors(process, GaussianMixture(**MIXTURE))
    assert all(v < 1.0 for v in errors.values()), errors


EXACT_DIVERGENCE = likelihood.slope_and_divergence


def no_divergence(model, process, y, level):
    """Mutant: the change of variables forgotten."""
    f, div = EXACT_DIVERGENCE(model, process, y, level)
    return f, torch.zeros_like(div)


def divergence_sign_flipped(model, process, y, level):
    """Mutant: log p carried the wrong way along the flow."""
    f, div = EXACT_DIVERGENCE(model, process, y, level)
    return f, -div


def euler(model, process, x0, steps=32, spacing="karras", prior=None):
    """Mutant: first-order steps (no Heun correction)."""
    prior = prior or likelihood.gaussian_prior(process)
    levels = [lv for lv in process.levels(steps, spacing) if lv.t is not None][::-1]
    y, logdet, prev = x0.detach(), 0.0, 0.0
    for level in levels:
        f, div = likelihood.slope_and_divergence(model, process, y, level)
        y, logdet, prev = y + (level.sigma_ve - prev) * f, logdet + (level.sigma_ve - prev) * div, level.sigma_ve
    return prior(y, levels[-1]) + logdet


@pytest.mark.parametrize("mutant", ["no_divergence", "divergence_sign_flipped", "euler"])
def test_nll_checks_catch_a_broken_integrator(mutant, monkeypatch):
    density, process = GaussianMixture(**MIXTURE), EDMProcess()
    log_likelihood = likelihood.ode_log_likelihood
    if mutant == "euler":
        log_likelihood = euler
    else:
        monkeypatch.setattr(likelihood, "slope_and_divergence", globals()[mutant])
    errors = nll_errors(process, density, log_likelihood)
    assert any(v >= 1.0 for v in errors.values()), errors
