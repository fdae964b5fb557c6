"""The A/B winner (R-ATTR-3): each variation's probability to be best on the primary metric.

Plain values in and out (no Spark), so a Spark job over the report table and a report alike can
call :func:`pick_winner` with one :class:`VariationStats` per variation.

**Conversion metrics** (``purchases_per_user``: allocated users with at least one in-window
purchase out of the allocated users; ``ctr``: clicked sends out of sends). Each variation's rate
has a Beta-Binomial posterior with a uniform Beta(1, 1) prior: Beta(1 + conversions,
1 + trials - conversions). The probability that variation *i* is best is the integral

    P(X_i > max_{j != i} X_j) = integral of f_i(x) * prod_{j != i} F_j(x) dx

computed by adaptive Gauss-Kronrod quadrature (QUADPACK, :func:`scipy.integrate.quad`) with the
Beta density and CDF of :mod:`scipy.special`, over the central 1 - 2e-15 of arm *i*'s posterior
(the rest cannot change the result by more than 2e-15). It is exact up to the quadrature's error
(below 1e-9; the tests check it against the closed form for two arms and a seeded Monte Carlo for
three), and deterministic: no random draws.

**Revenue per user** (in-window revenue summed over the variation's allocated users, users without a
purchase counting 0, divided by the allocated users). Each variation's mean gets the normal
approximation of its posterior, Normal(mean, s^2 / n) with the sample variance s^2 (n - 1 in the
denominator), from the sum and the sum of squares of the *per-user* revenue; the probability to be
best is the same integral with normal densities and CDFs. Why: revenue per user is a mean over
thousands of users, where the central limit theorem holds whatever the shape of basket values
(mostly zeros, a long tail); it needs only two sums a Spark or dbt aggregation produces in one
pass, and it assumes no model of basket values (a Beta x Gamma model assumes exponential baskets,
which a few large orders contradict). Its limit: with very few purchasers the normal shape is
rough, and an arm whose users all spent the same (all 0) is treated as certain of its mean (its
standard deviation is floored at a negligible value so that the integral stays defined).

**The verdict.** The winner is the one variation whose probability to be best is at least the
threshold (default 0.95, the R-ATTR-3 setting; it must exceed one half, so at most one variation
can reach it); otherwise there is none. The control may win: it means no variation beat it.
Decisions where the rule is silent:

- any variation without trials (without users, or without sends for ``ctr``; fewer than 2 users
  for ``revenue_per_user``, whose variance needs two) makes the verdict ``not_enough_data``, with
  no probabilities: one arm without data says nothing about which arm is best;
- a campaign with a single variation is ``single_variation``: its probability to be best is 1.0
  (there is no other arm), and no winner is declared, since nothing was compared;
- the credible intervals are the central 95 % of each posterior.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from scipy import integrate, special

Metric = Literal["purchases_per_user", "revenue_per_user", "ctr"]
"""The campaigns' ``primary_metric`` values (``reconnect.campaigns.types.PrimaryMetric``)."""

Status = Literal["winner", "no_winner", "not_enough_data", "single_variation"]

DEFAULT_THRESHOLD = 0.95  # R-ATTR-3
CREDIBLE_LEVEL = 0.95
METHOD_BETA = "beta_binomial_quadrature"
METHOD_NORMAL = "normal_mean_quadrature"

_TAIL = 1e-15  # posterior mass left out of each integral, at each end
_NORMAL_HALF_WIDTH = 8.0  # |z| <= 8 holds all but 1.3e-15 of a normal
_SD_FLOOR = 1e-12  # relative to the revenue scale: a zero-variance arm's standard deviation
_QUAD = {"epsabs": 1e-12, "epsrel": 1e-10, "limit": 200}


@dataclass(frozen=True)
class VariationStats:
    """One variation's counts, as the report table has them.

    ``trials`` is the metric's denominator: the allocated users for the per-user metrics (so it
    equals ``users``), the sends for ``ctr``. ``conversions`` is the numerator of the conversion
    metrics: users with at least one in-window purchase, or clicked sends (a send clicked twice
    counts once). ``revenue_sum`` and ``revenue_sum_squares`` are the sum and the sum of squares
    of each allocated user's in-window revenue (a user's total, squared; users without a purchase
    add 0), read by ``revenue_per_user`` only.
    """

    variation_id: str
    is_control: bool
    users: int
    conversions: int
    trials: int
    revenue_sum: float = 0.0
    revenue_sum_squares: float = 0.0

    def __post_init__(self) -> None:
        name = f"variation {self.variation_id!r}"
        if min(self.users, self.conversions, self.trials) < 0:
            raise ValueError(f"{name}: users, conversions and trials must not be negative")
        if self.conversions > self.trials:
            raise ValueError(
                f"{name}: {self.conversions} conversions out of {self.trials} trials; "
                "a conversion is a user or a send counted once"
            )
        if not (math.isfinite(self.revenue_sum) and math.isfinite(self.revenue_sum_squares)):
            raise ValueError(f"{name}: revenue sums must be finite")
        if self.revenue_sum_squares < 0:
            raise ValueError(f"{name}: a sum of squares cannot be negative")


@dataclass(frozen=True)
class VariationResult:
    """One variation's posterior: its probability to be best, mean and credible interval.

    ``observed`` is the raw metric (conversions or revenue over trials). The others are ``None``
    where the data cannot give them: every ``probability_best`` when the verdict is
    ``not_enough_data``, and the posterior of a variation without enough trials.
    """

    variation_id: str
    is_control: bool
    trials: int
    observed: float | None
    posterior_mean: float | None
    ci_low: float | None
    ci_high: float | None
    probability_best: float | None


@dataclass(frozen=True)
class Verdict:
    """The campaign's verdict: the winner (or ``None``), and every variation's result in order."""

    metric: Metric
    method: str
    threshold: float
    status: Status
    winner: str | None
    reason: str
    variations: tuple[VariationResult, ...]


# --- probabilities to be best -------------------------------------------------------------------


def beta_probabilities_best(alphas: Sequence[float], betas: Sequence[float]) -> tuple[float, ...]:
    """P(arm i is best) for independent Beta(alphas[i], betas[i]) arms, by quadrature.

    Parameters must be at least 1 (a Beta(1, 1) prior and counts), which keeps every density
    bounded.
    """
    _check_lengths(alphas, betas)
    if any(p < 1 for p in (*alphas, *betas)):
        raise ValueError("Beta parameters below 1 are not supported (the prior is Beta(1, 1))")
    arms = list(zip(alphas, betas, strict=True))
    results = []
    for i, (a, b) in enumerate(arms):
        others = tuple(arms[:i] + arms[i + 1 :])
        lo = float(special.betaincinv(a, b, _TAIL))
        hi = float(special.betaincinv(a, b, 1 - _TAIL))
        # Where the product of CDFs changes fastest: about the other arms' medians.
        marks = [float(special.betaincinv(a_j, b_j, 0.5)) for a_j, b_j in others]
        args = (a, b, float(special.betaln(a, b)), others)
        results.append(_integrate(_beta_integrand, lo, hi, marks, args))
    return tuple(results)


def _beta_integrand(
    x: float, a: float, b: float, log_beta: float, others: tuple[tuple[float, float], ...]
) -> float:
    """f_i(x) * prod_j F_j(x): arm i's Beta density (in log space) times the others' CDFs."""
    if x <= 0.0 or x >= 1.0:
        return 0.0
    value = math.exp((a - 1) * math.log(x) + (b - 1) * math.log1p(-x) - log_beta)
    for a_j, b_j in others:
        value *= float(special.betainc(a_j, b_j, x))
        if value == 0.0:
            break
    return value


def normal_probabilities_best(means: Sequence[float], sds: Sequence[float]) -> tuple[float, ...]:
    """P(arm i is best) for independent Normal(means[i], sds[i]**2) arms, by quadrature.

    Standard deviations must be positive. Arm *i*'s integral runs over its standard score z:
    the integral of phi(z) * prod_{j != i} Phi((mean_i - mean_j + sd_i z) / sd_j) dz.
    """
    _check_lengths(means, sds)
    if any(not sd > 0 for sd in sds):
        raise ValueError("standard deviations must be positive")
    arms = list(zip(means, sds, strict=True))
    results = []
    for i, (mu, sd) in enumerate(arms):
        others = tuple(arms[:i] + arms[i + 1 :])
        # Where the product of CDFs changes fastest: where arm i crosses another arm's mean.
        marks = [(mu_j - mu) / sd for mu_j, _ in others]
        args = (mu, sd, others)
        results.append(
            _integrate(_normal_integrand, -_NORMAL_HALF_WIDTH, _NORMAL_HALF_WIDTH, marks, args)
        )
    return tuple(results)


def _normal_integrand(
    z: float, mu: float, sd: float, others: tuple[tuple[float, float], ...]
) -> float:
    """phi(z) * prod_j Phi((mu - mu_j + sd z) / sd_j), in arm i's standard score z."""
    value = math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    for mu_j, sd_j in others:
        value *= float(special.ndtr((mu - mu_j + sd * z) / sd_j))
        if value == 0.0:
            break
    return value


def _check_lengths(first: Sequence[float], second: Sequence[float]) -> None:
    if len(first) != len(second) or not first:
        raise ValueError("expected one pair of parameters per arm, and at least one arm")


def _integrate(
    f: Callable[..., float], lo: float, hi: float, marks: list[float], args: tuple[object, ...]
) -> float:
    points = sorted({m for m in marks if lo < m < hi})
    value, _error = integrate.quad(f, lo, hi, args=args, points=points or None, **_QUAD)
    return min(1.0, max(0.0, float(value)))


# --- the verdict --------------------------------------------------------------------------------


def pick_winner(
    metric: Metric,
    variations: Sequence[VariationStats],
    threshold: float = DEFAULT_THRESHOLD,
) -> Verdict:
    """The campaign's verdict on ``metric`` (its ``primary_metric``), R-ATTR-3.

    ``variations`` holds one entry per variation (in the order the results keep); ``threshold``
    is the probability to be best a variation needs to win, above 0.5 and at most 1.
    """
    if metric not in ("purchases_per_user", "revenue_per_user", "ctr"):
        raise ValueError(f"unknown metric {metric!r}")
    if not 0.5 < threshold <= 1.0:
        raise ValueError(f"the threshold must be above 0.5 and at most 1; got {threshold}")
    if not variations:
        raise ValueError("a campaign has at least one variation")
    ids = [v.variation_id for v in variations]
    if len(set(ids)) != len(ids):
        raise ValueError(f"variation ids repeat: {ids}")
    if metric != "ctr":
        for v in variations:
            if v.trials != v.users:
                raise ValueError(
                    f"variation {v.variation_id!r}: {metric} counts per allocated user, so "
                    f"trials ({v.trials}) must equal users ({v.users})"
                )

    revenue = metric == "revenue_per_user"
    method = METHOD_NORMAL if revenue else METHOD_BETA
    minimum = 2 if revenue else 1
    posteriors = [_normal_posterior(v) if revenue else _beta_posterior(v) for v in variations]

    def verdict(
        status: Status,
        reason: str,
        probabilities: Sequence[float | None],
        winner: str | None = None,
    ) -> Verdict:
        results = tuple(
            _result(v, revenue, post, p)
            for v, post, p in zip(variations, posteriors, probabilities, strict=True)
        )
        return Verdict(metric, method, threshold, status, winner, reason, results)

    short = [v.variation_id for v in variations if v.trials < minimum]
    if short:
        what = "sends" if metric == "ctr" else "users"
        need = "fewer than 2" if revenue else "no"
        return verdict(
            "not_enough_data",
            f"not enough data: {', '.join(short)} {'has' if len(short) == 1 else 'have'} "
            f"{need} {what}",
            [None] * len(variations),
        )
    if len(variations) == 1:
        return verdict("single_variation", "single variation: nothing to compare", [1.0])

    if revenue:
        means = [p.mean for p in posteriors if p is not None]
        scale = max([1.0, *(abs(m) for m in means)])
        sds = [max(p.spread, _SD_FLOOR * scale) for p in posteriors if p is not None]
        probabilities = normal_probabilities_best(means, sds)
    else:
        alphas = [1.0 + v.conversions for v in variations]
        betas = [1.0 + v.trials - v.conversions for v in variations]
        probabilities = beta_probabilities_best(alphas, betas)

    leaders = [
        v.variation_id for v, p in zip(variations, probabilities, strict=True) if p >= threshold
    ]
    best = max(probabilities)
    if len(leaders) == 1:
        reason = f"{leaders[0]} is best with probability {best:.4f} (threshold {threshold})"
        return verdict("winner", reason, probabilities, winner=leaders[0])
    return verdict(
        "no_winner",
        f"no variation reaches {threshold} (the highest probability to be best is {best:.4f})",
        probabilities,
    )


# --- per-variation posteriors -------------------------------------------------------------------


@dataclass(frozen=True)
class _Posterior:
    mean: float
    spread: float  # the normal posterior's standard deviation; unused for Beta
    ci_low: float
    ci_high: float


def _beta_posterior(v: VariationStats) -> _Posterior | None:
    if v.trials < 1:
        return None
    a, b = 1.0 + v.conversions, 1.0 + v.trials - v.conversions
    tail = (1 - CREDIBLE_LEVEL) / 2
    return _Posterior(
        mean=a / (a + b),
        spread=math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1))),
        ci_low=float(special.betaincinv(a, b, tail)),
        ci_high=float(special.betaincinv(a, b, 1 - tail)),
    )


def _normal_posterior(v: VariationStats) -> _Posterior | None:
    n = v.trials
    if n < 2:
        return None
    mean = v.revenue_sum / n
    # max(0, ...): the subtraction may round below zero when every user spent the same.
    variance = max(0.0, (v.revenue_sum_squares - n * mean * mean) / (n - 1))
    sd = math.sqrt(variance / n)
    z = float(special.ndtri(1 - (1 - CREDIBLE_LEVEL) / 2))
    return _Posterior(mean=mean, spread=sd, ci_low=mean - z * sd, ci_high=mean + z * sd)


def _result(
    v: VariationStats, revenue: bool, post: _Posterior | None, probability: float | None
) -> VariationResult:
    observed = None
    if v.trials:
        observed = (v.revenue_sum if revenue else v.conversions) / v.trials
    return VariationResult(
        variation_id=v.variation_id,
        is_control=v.is_control,
        trials=v.trials,
        observed=observed,
        posterior_mean=None if post is None else post.mean,
        ci_low=None if post is None else post.ci_low,
        ci_high=None if post is None else post.ci_high,
        probability_best=probability,
    )
