"""Fair (true-probability) price paths: a closed-form function of (seed, market, time), and a martingale.

Each market carries a latent score Z that moves as a Brownian motion on a variance clock s = tau**2 (tau is
the share of the market's life elapsed, so information arrives late), from Z(0) = x0 to Z(1) = z1 with total
variance PATH_VAR. A binary market resolves YES when z1 > 0, and its fair YES price is the exact conditional
probability P(z1 > 0 | Z(s)) = Phi(Z(s) / sqrt(PATH_VAR * (1 - s))). A negRisk event's winner is the member
with the largest z1, and each member's fair price is the probability that it finishes on top, so the group's
prices sum to 1. Because every price is the conditional probability of the outcome given the path so far,
the simulated market is calibrated and nothing observable in the price history predicts the outcome beyond
the price itself: without informed flow a model cannot beat the mid, which is what the leakage tests rely on.

The outcome is fixed by the catalog first and the latent endpoints are drawn from their distribution given
that outcome (`endpoints_given_outcome`, `group_endpoints_given_winner`), which is the same joint law as
drawing the path and reading the outcome off it. Points inside the path come from a Levy (midpoint)
construction keyed by (seed, market, level, index): evaluating one market at one instant costs DEPTH hash
calls, most of them cached, and never touches any other market (except its negRisk siblings).

Two calibrations (`CALIBRATIONS`, chosen with `--market`):

- `realistic` (the default): prices start more decided (x0 has variance 3.5, was 1.5) and
  information arrives earlier (s = tau**0.8). The market maker learns from whale order flow, Kyle-style
  (`market_yes`): each whale order towards YES is evidence worth log((1 + F) / (1 - F)) in log-odds when a
  share F of whales is informed; orders older than `mm_lag_s` (6 h) are priced in fully, newer ones with
  `mm_recent_weight` (0). What is left for a model is the flow of the last six hours, so an edge decays as
  the market learns. With informed flow 0.3 (seeds 3, 7, 11, 21; 400 markets; 230-270 rows each) the
  market's Brier score 24 h before close is 0.047-0.068 (mean 0.056; Polymarket's is about 0.056) and the
  Bayes-optimal use of every whale order gains 0.005-0.016 in Brier on the price (mean 0.011; the best
  published real gain is about 0.009).
- `strong`: the previous world (x0 variance 1.5, s = tau**2, the price ignores the tape), where informed
  whales carry information the mid never gets: a pipeline check, not a market.

With informed flow 0 both calibrations' prices are the fair price, a calibrated martingale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .rng import T_NOISE, gauss

P_MIN, P_MAX = 0.0015, 0.9985
PATH_VAR = 4.0  # variance the path adds over the market's life


@dataclass(frozen=True)
class Calibration:
    prior_var: float  # variance of x0: where prices start
    clock_power: float  # the variance clock is s = tau ** clock_power
    mm_learns: bool  # the market maker prices whale order flow
    mm_lag_s: float = 0.0  # whale orders older than this are priced in fully
    mm_recent_weight: float = 0.0  # ... and newer ones with this weight


CALIBRATIONS = {
    "realistic": Calibration(prior_var=3.5, clock_power=0.8, mm_learns=True, mm_lag_s=6 * 3600.0),
    "strong": Calibration(prior_var=1.5, clock_power=2.0, mm_learns=False),
}
DEFAULT_MARKET = "realistic"
MAX_INFORMED = 0.98  # caps the evidence of one whale order (F = 1 would make it certain)
DEPTH = 22  # midpoint levels: below 2**-22 of the variance clock the path is interpolated linearly
_HALF_SD = [math.sqrt(PATH_VAR * 2.0**-level / 4.0) for level in range(DEPTH)]
_SQRT2 = math.sqrt(2.0)

# The path's standard normals by (seed, market key, level, index) packed into one int: nearby instants (a book
# tick, the price a day ago) share their upper levels.
_NODES: dict[int, float] = {}
_NODES_MAX = 1_000_000


def endpoints_given_outcome(g1: float, g2: float, sign: float, prior_var: float) -> tuple[float, float]:
    """(x0, z1) from two standard normals: z1 on the outcome's side (sign +1 YES, -1 NO), x0 given z1; sign 0
    (a market that will resolve INVALID) draws both without condition."""
    if not sign:
        x0 = math.sqrt(prior_var) * g1
        return x0, x0 + math.sqrt(PATH_VAR) * g2
    total = prior_var + PATH_VAR
    z1 = sign * abs(g1) * math.sqrt(total)
    x0 = z1 * prior_var / total + math.sqrt(prior_var * PATH_VAR / total) * g2
    return x0, z1


def group_endpoints_given_winner(
    draws: list[tuple[float, float]], winner: int, prior_var: float
) -> list[tuple[float, float]]:
    """(x0, z1) per negRisk member from two standard normals each, given which member wins: members are
    exchangeable, so swapping the top finisher's endpoints into the winner's place conditions exactly."""
    pairs = [endpoints_given_outcome(g1, g2, 0.0, prior_var) for g1, g2 in draws]
    top = max(range(len(pairs)), key=lambda j: pairs[j][1])
    pairs[top], pairs[winner] = pairs[winner], pairs[top]
    return pairs


def clock(m, t: float) -> float:
    """The variance clock s in [0, 1] of market m at time t."""
    life = m.end_date - m.created_at
    tau = (t - m.created_at) / life if life > 0 else 1.0
    tau = min(1.0, max(0.0, tau))
    return tau**m.clock_power


def latent(seed: int, m, s: float) -> float:
    """Z(s) on the Brownian bridge from (0, x0) to (1, z1)."""
    if s <= 0.0:
        return m.x0
    if s >= 1.0:
        return m.z1
    lo, hi, z_lo, z_hi, index = 0.0, 1.0, m.x0, m.z1, 0
    key = m.key
    nodes = _NODES
    path = ((seed << 64) | key) << 5  # market keys are 64-bit hashes; 22 levels fit in 5 bits
    for level, half_sd in enumerate(_HALF_SD):
        mid = 0.5 * (lo + hi)
        node = ((path | level) << DEPTH) | index
        g = nodes.get(node)
        if g is None:
            if len(nodes) > _NODES_MAX:
                nodes.clear()
            g = nodes[node] = gauss(seed, T_NOISE, key, level, index)
        z_mid = 0.5 * (z_lo + z_hi) + half_sd * g
        if s < mid:
            hi, z_hi, index = mid, z_mid, 2 * index
        else:
            lo, z_lo, index = mid, z_mid, 2 * index + 1
    return z_lo + (s - lo) / (hi - lo) * (z_hi - z_lo)


def _phi_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / _SQRT2)


# Standard-normal quadrature on a fixed grid, for the negRisk win probabilities.
_GRID = [-6.0 + 0.3 * i for i in range(41)]
_WEIGHTS = [math.exp(-0.5 * u * u) for u in _GRID]


def win_probabilities(scores: list[float], remaining_var: float) -> list[float]:
    """P(member i has the largest final score) when every score still moves by an independent
    N(0, remaining_var): E_u[prod_{j != i} Phi((x_i - x_j) / r + u)]."""
    n = len(scores)
    if remaining_var <= 1e-12:
        top = max(range(n), key=lambda j: scores[j])
        return [1.0 if j == top else 0.0 for j in range(n)]
    r = math.sqrt(remaining_var)
    raw = []
    for i, x_i in enumerate(scores):
        gaps = [(x_i - x_j) / r for j, x_j in enumerate(scores) if j != i]
        total = 0.0
        for u, w in zip(_GRID, _WEIGHTS):
            prod = w
            for gap in gaps:
                prod *= _phi_cdf(gap + u)
                if prod < 1e-300:
                    break
            total += prod
        raw.append(total)
    norm = sum(raw)
    return [v / norm for v in raw]


_GROUP_CACHE: dict = {}


def fair_yes(seed: int, m, t: float) -> float:
    """The fair probability of the market's index-0 outcome at time t."""
    s = clock(m, t)
    remaining = PATH_VAR * (1.0 - s)
    if m.neg_risk:
        # Siblings share one book-tick schedule, so one computation serves the whole group at a tick.
        key = (seed, m.event.id, t)
        probs = _GROUP_CACHE.get(key)
        if probs is None:
            probs = win_probabilities(
                [latent(seed, sib, clock(sib, t)) for sib in m.event.markets], remaining
            )
            if len(_GROUP_CACHE) > 50_000:
                _GROUP_CACHE.clear()
            _GROUP_CACHE[key] = probs
        p = probs[m.member]
    elif remaining <= 1e-12:
        p = 1.0 if m.z1 > 0 else 0.0
    else:
        p = _phi_cdf(latent(seed, m, s) / math.sqrt(remaining))
    return min(P_MAX, max(P_MIN, p))


def whale_evidence(informed_flow: float) -> float:
    """Log-likelihood ratio of one whale order towards YES, YES against NO, when a share `informed_flow` of
    whales trades towards the outcome and the rest at random: ((1 + F) / 2) / ((1 - F) / 2)."""
    f = min(MAX_INFORMED, max(0.0, informed_flow))
    return math.log((1.0 + f) / (1.0 - f))


def market_yes(
    fair: float, evidence: float, net_old: int, net_recent: int, calibration: Calibration
) -> float:
    """The market maker's price: the fair price moved by the whale order flow it has learned from (`net_old`:
    net whale orders towards YES older than the lag; `net_recent`: newer ones)."""
    weight = net_old + calibration.mm_recent_weight * net_recent
    if not calibration.mm_learns or not evidence or not weight:
        return fair
    logit = math.log(fair / (1.0 - fair)) + evidence * weight
    return min(P_MAX, max(P_MIN, 1.0 / (1.0 + math.exp(-min(50.0, max(-50.0, logit))))))
