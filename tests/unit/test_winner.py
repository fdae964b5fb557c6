"""The A/B winner (R-ATTR-3): probability to be best on the primary metric, winner at 95 %."""

from __future__ import annotations

import math
import subprocess
import sys
from typing import get_args

import numpy as np
import pytest

from reconnect.analytics.winner import (
    DEFAULT_THRESHOLD,
    METHOD_BETA,
    METHOD_NORMAL,
    Metric,
    VariationStats,
    beta_probabilities_best,
    normal_probabilities_best,
    pick_winner,
)


def arm(vid: str, conversions: int, trials: int, control: bool = False) -> VariationStats:
    """A per-user conversion arm: ``trials`` allocated users, ``conversions`` purchasers."""
    return VariationStats(vid, control, users=trials, conversions=conversions, trials=trials)


def revenue_arm(vid: str, per_user: list[float], control: bool = False) -> VariationStats:
    """A revenue arm built from each allocated user's revenue (0 for users who did not buy)."""
    return VariationStats(
        vid,
        control,
        users=len(per_user),
        conversions=sum(1 for r in per_user if r > 0),
        trials=len(per_user),
        revenue_sum=sum(per_user),
        revenue_sum_squares=sum(r * r for r in per_user),
    )


def miller_b_beats_a(alpha_a: int, beta_a: int, alpha_b: int, beta_b: int) -> float:
    """Evan Miller's closed form for P(B > A), two Beta arms, integer alpha_b (log space)."""

    def log_beta(x: float, y: float) -> float:
        return math.lgamma(x) + math.lgamma(y) - math.lgamma(x + y)

    return sum(
        math.exp(
            log_beta(alpha_a + i, beta_a + beta_b)
            - math.log(beta_b + i)
            - log_beta(1 + i, beta_b)
            - log_beta(alpha_a, beta_a)
        )
        for i in range(alpha_b)
    )


def monte_carlo_best(draws: np.ndarray) -> np.ndarray:
    """The share of draws (arms x samples) in which each arm is the largest."""
    return np.bincount(draws.argmax(axis=0), minlength=draws.shape[0]) / draws.shape[1]


def probabilities(verdict_arms: tuple[object, ...]) -> list[float]:
    out = []
    for r in verdict_arms:
        p = r.probability_best  # type: ignore[attr-defined]
        assert p is not None
        out.append(p)
    return out


# --- conversion metrics: Beta-Binomial ---------------------------------------------------------


def test_r_attr_3_equal_arms_are_each_best_with_probability_one_half_and_no_winner_is_declared():
    verdict = pick_winner("purchases_per_user", [arm("a", 100, 1000, True), arm("b", 100, 1000)])

    assert probabilities(verdict.variations) == pytest.approx([0.5, 0.5], abs=1e-9)
    assert verdict.status == "no_winner"
    assert verdict.winner is None
    assert verdict.method == METHOD_BETA
    assert verdict.threshold == DEFAULT_THRESHOLD == 0.95


def test_r_attr_3_a_clearly_better_variation_is_best_beyond_0_999_and_declared_the_winner():
    verdict = pick_winner("purchases_per_user", [arm("a", 100, 1000, True), arm("b", 200, 1000)])

    p_a, p_b = probabilities(verdict.variations)
    assert p_b > 0.999
    assert p_a == pytest.approx(1 - p_b, abs=1e-9)
    assert verdict.status == "winner"
    assert verdict.winner == "b"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((100, 1000), (120, 1000)),
        ((100, 1000), (200, 1000)),
        ((3, 40), (7, 35)),  # small, unequal arms
        ((0, 50), (1, 50)),
        ((480, 5000), (530, 5200)),
    ],
)
def test_r_attr_3_two_arms_agree_with_the_closed_form_beta_formula_to_1e_6(a, b):
    (conv_a, n_a), (conv_b, n_b) = a, b
    expected = miller_b_beats_a(1 + conv_a, 1 + n_a - conv_a, 1 + conv_b, 1 + n_b - conv_b)

    verdict = pick_winner("ctr", [arm("a", conv_a, n_a), arm("b", conv_b, n_b)])

    p_a, p_b = probabilities(verdict.variations)
    assert p_b == pytest.approx(expected, abs=1e-6)
    assert p_a == pytest.approx(1 - expected, abs=1e-6)


def test_r_attr_3_three_arms_agree_with_a_seeded_monte_carlo_within_0_005():
    counts = [(110, 1000), (124, 1000), (118, 950)]
    alphas = [1 + c for c, _ in counts]
    betas = [1 + n - c for c, n in counts]
    rng = np.random.default_rng(20240501)
    draws = np.stack([rng.beta(a, b, size=400_000) for a, b in zip(alphas, betas, strict=True)])

    verdict = pick_winner(
        "purchases_per_user", [arm(f"v{i}", c, n) for i, (c, n) in enumerate(counts)]
    )

    exact = probabilities(verdict.variations)
    assert exact == pytest.approx(list(monte_carlo_best(draws)), abs=0.005)
    assert sum(exact) == pytest.approx(1.0, abs=1e-9)


def test_r_attr_3_probabilities_over_many_arms_add_up_to_one_and_rank_the_arms():
    counts = [(50, 1000), (55, 1000), (60, 1000), (65, 1000), (90, 1000)]

    verdict = pick_winner("ctr", [arm(f"v{i}", c, n) for i, (c, n) in enumerate(counts)])

    p = probabilities(verdict.variations)
    assert sum(p) == pytest.approx(1.0, abs=1e-9)
    assert p == sorted(p)
    assert verdict.winner == "v4"


def test_r_attr_3_the_threshold_is_respected_a_0_93_variation_wins_at_0_9_but_not_at_0_95():
    arms = [arm("a", 100, 1000, True), arm("b", 121, 1000)]

    at_95 = pick_winner("purchases_per_user", arms)
    at_90 = pick_winner("purchases_per_user", arms, threshold=0.9)

    assert probabilities(at_95.variations)[1] == pytest.approx(0.93, abs=0.005)
    assert (at_95.status, at_95.winner) == ("no_winner", None)
    assert (at_90.status, at_90.winner, at_90.threshold) == ("winner", "b", 0.9)


def test_r_attr_3_the_control_can_win_which_means_no_variation_beat_it():
    verdict = pick_winner(
        "purchases_per_user", [arm("control", 200, 1000, True), arm("b", 100, 1000)]
    )

    assert verdict.winner == "control"
    assert verdict.variations[0].is_control


def test_r_attr_3_each_variation_reports_its_posterior_mean_and_95_percent_credible_interval():
    verdict = pick_winner("purchases_per_user", [arm("a", 100, 1000), arm("b", 0, 10)])

    a, b = verdict.variations
    assert a.observed == 0.1
    assert a.posterior_mean == pytest.approx(101 / 1002)
    assert a.ci_low is not None and a.ci_high is not None
    assert a.ci_low < a.posterior_mean < a.ci_high
    # Beta(101, 901): the central 95 % is about 0.083 to 0.120.
    assert (a.ci_low, a.ci_high) == pytest.approx((0.0829, 0.1202), abs=5e-4)
    # No purchase in 10 users: Beta(1, 11), whose 2.5 % quantile is 1 - 0.975 ** (1 / 11).
    assert b.observed == 0.0
    assert b.ci_low == pytest.approx(1 - 0.975 ** (1 / 11), rel=1e-9)


# --- revenue per user: normal approximation ---------------------------------------------------


def test_r_attr_3_revenue_per_user_declares_a_clear_winner_from_per_user_sums():
    control = [40.0] * 50 + [120.0] * 10 + [0.0] * 940  # 3 200 over 1 000 users
    better = [40.0] * 100 + [120.0] * 20 + [0.0] * 880  # 6 400 over 1 000 users

    verdict = pick_winner(
        "revenue_per_user", [revenue_arm("a", control, True), revenue_arm("b", better)]
    )

    assert verdict.method == METHOD_NORMAL
    assert (verdict.status, verdict.winner) == ("winner", "b")
    a, b = verdict.variations
    assert b.probability_best is not None and b.probability_best > 0.999
    assert (a.posterior_mean, b.posterior_mean) == pytest.approx((3.2, 6.4))
    # Normal(mean, s^2 / n): the interval is mean +- 1.96 s / sqrt(n), s the sample deviation.
    s = float(np.std(better, ddof=1))
    assert b.ci_high == pytest.approx(6.4 + 1.959964 * s / math.sqrt(1000), rel=1e-6)


def test_r_attr_3_revenue_of_equal_arms_splits_evenly_even_when_nobody_bought():
    same = [10.0] * 30 + [0.0] * 970
    nothing = [0.0] * 500

    even = pick_winner("revenue_per_user", [revenue_arm("a", same), revenue_arm("b", same)])
    empty = pick_winner("revenue_per_user", [revenue_arm("a", nothing), revenue_arm("b", nothing)])

    assert probabilities(even.variations) == pytest.approx([0.5, 0.5], abs=1e-9)
    assert probabilities(empty.variations) == pytest.approx([0.5, 0.5], abs=1e-9)
    assert even.winner is None and empty.winner is None


def test_r_attr_3_the_normal_quadrature_agrees_with_a_seeded_monte_carlo_within_0_005():
    means, sds = [3.2, 3.5, 3.4], [0.20, 0.22, 0.05]
    rng = np.random.default_rng(7)
    draws = np.stack([rng.normal(m, s, size=400_000) for m, s in zip(means, sds, strict=True)])

    exact = normal_probabilities_best(means, sds)

    assert list(exact) == pytest.approx(list(monte_carlo_best(draws)), abs=0.005)
    assert sum(exact) == pytest.approx(1.0, abs=1e-9)


# --- not enough data, a single variation, determinism ------------------------------------------


def test_r_attr_3_a_variation_without_trials_means_not_enough_data_and_no_probabilities():
    sent = VariationStats("a", True, users=500, conversions=40, trials=800)
    unsent = VariationStats("b", False, users=500, conversions=0, trials=0)

    verdict = pick_winner("ctr", [sent, unsent])

    assert verdict.status == "not_enough_data"
    assert verdict.winner is None
    assert "not enough data" in verdict.reason and "b" in verdict.reason
    assert [r.probability_best for r in verdict.variations] == [None, None]
    assert verdict.variations[0].posterior_mean == pytest.approx(41 / 802)
    assert verdict.variations[1].posterior_mean is None


def test_r_attr_3_revenue_per_user_needs_two_users_per_variation_for_a_variance():
    verdict = pick_winner(
        "revenue_per_user", [revenue_arm("a", [0.0] * 100), revenue_arm("b", [25.0])]
    )

    assert verdict.status == "not_enough_data"
    assert verdict.variations[1].observed == 25.0


def test_r_attr_3_a_single_variation_is_best_with_probability_1_but_declares_no_winner():
    verdict = pick_winner("purchases_per_user", [arm("only", 30, 300)])

    assert verdict.status == "single_variation"
    assert verdict.winner is None
    assert [r.probability_best for r in verdict.variations] == [1.0]


def test_r_attr_3_the_same_inputs_give_the_same_verdict():
    arms = [arm("a", 110, 1000), arm("b", 124, 1000), arm("c", 118, 950)]
    revenue = [revenue_arm("a", [5.0] * 40 + [0.0] * 60), revenue_arm("b", [7.0] * 35 + [0.0] * 65)]

    assert pick_winner("ctr", arms) == pick_winner("ctr", list(arms))
    assert pick_winner("revenue_per_user", revenue) == pick_winner("revenue_per_user", revenue)
    assert beta_probabilities_best([11, 15], [91, 87]) == beta_probabilities_best(
        [11, 15], [91, 87]
    )


# --- inputs -------------------------------------------------------------------------------------


def test_r_attr_3_the_metrics_are_the_campaigns_primary_metrics():
    from reconnect.campaigns.types import PrimaryMetric

    assert get_args(Metric) == get_args(PrimaryMetric)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: VariationStats("a", False, 10, 11, 10), "conversions out of"),
        (lambda: VariationStats("a", False, -1, 0, 0), "negative"),
        (lambda: pick_winner("ctr", [arm("a", 1, 10)], threshold=0.5), "threshold"),
        (lambda: pick_winner("ctr", [arm("a", 1, 10), arm("a", 2, 10)]), "repeat"),
        (lambda: pick_winner("ctr", []), "at least one"),
        (
            lambda: pick_winner(
                "purchases_per_user", [VariationStats("a", False, 10, 1, 20), arm("b", 1, 10)]
            ),
            "must equal users",
        ),
    ],
)
def test_r_attr_3_inconsistent_inputs_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_the_winner_module_does_not_import_spark():
    code = "import sys, reconnect.analytics.winner; sys.exit('pyspark' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
