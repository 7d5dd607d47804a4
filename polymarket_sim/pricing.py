"""Fair (true-probability) price paths: a closed-form function of (seed, market, time).

Each market's YES log-odds blend from a random prior towards its predetermined outcome as endDate nears
(weight tau^3, so information arrives late), plus two octaves of smooth seeded value-noise whose amplitude
shrinks to zero at endDate. After endDate the path keeps firming towards the outcome. NegRisk members are
combined with a softmax, so a group's fair YES prices sum to exactly 1. Evaluating one market at one instant
costs a handful of hash calls and never touches any other market (except its negRisk siblings).
"""

from __future__ import annotations

import math

from .rng import T_NOISE, gauss

P_MIN, P_MAX = 0.0015, 0.9985


_KNOTS: dict = {}


def _knot(seed: int, key: int, octave: int, i: int) -> float:
    # Neighbouring times (a book tick, the last trade's tick, the price a day ago) share noise knots.
    k = (seed, key, octave, i)
    v = _KNOTS.get(k)
    if v is None:
        if len(_KNOTS) > 200_000:
            _KNOTS.clear()
        v = _KNOTS[k] = gauss(seed, T_NOISE, key, octave, i)
    return v


def _value_noise(seed: int, key: int, octave: int, s: float) -> float:
    i = math.floor(s)
    f = s - i
    g0 = _knot(seed, key, octave, i)
    g1 = _knot(seed, key, octave, i + 1)
    f = f * f * (3.0 - 2.0 * f)
    return g0 + (g1 - g0) * f


def logit(seed: int, m, t: float) -> float:
    life = m.end_date - m.created_at
    tau = (t - m.created_at) / life if life > 0 else 1.0
    tau = max(tau, 0.0)
    if tau >= 1.0:
        w = 1.0
        firm = min(1.0, (t - m.end_date) / 3600.0) * 0.9
    else:
        w = tau * tau * tau
        firm = 0.0
    sign = 1.0 if m.target > 0 else (-1.0 if m.target < 0 else 0.0)
    base = m.a0 * (1.0 - w) + m.target * w + sign * firm
    env = math.sqrt(1.0 - w) if sign else 1.0
    period = m.noise_period
    noise = 0.8 * _value_noise(seed, m.key, 0, t / period) + 0.35 * _value_noise(seed, m.key, 1, t * 6.0 / period)
    return base + m.sigma * env * noise


_GROUP_CACHE: dict = {}


def fair_yes(seed: int, m, t: float) -> float:
    """The fair probability of the market's index-0 outcome at time t."""
    if m.neg_risk:
        # Siblings share one book-tick schedule, so one softmax serves the whole group at a tick.
        key = (seed, m.event.id, t)
        probs = _GROUP_CACHE.get(key)
        if probs is None:
            xs = [logit(seed, sib, t) for sib in m.event.markets]
            top = max(xs)
            es = [math.exp(x - top) for x in xs]
            total = sum(es)
            probs = [e / total for e in es]
            if len(_GROUP_CACHE) > 50_000:
                _GROUP_CACHE.clear()
            _GROUP_CACHE[key] = probs
        p = probs[m.member]
    else:
        x = logit(seed, m, t)
        p = 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0
    return min(P_MAX, max(P_MIN, p))
