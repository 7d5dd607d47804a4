"""Deterministic, stateless randomness keyed by integers.

Every random quantity in the simulated world is a pure function of (seed, tag, entity, time bucket), so the
world at a given clock is the same whichever requests were made and in whichever order. Keys are tuples of
ints only: CPython's tuple/int hash is not randomised per process (only str/bytes hashes are), and a
splitmix64 finaliser on top gives well-mixed 64-bit outputs even for consecutive keys.
"""

from __future__ import annotations

import math

MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_INV53 = 2.0**-53
_INV32 = 2.0**-32


def mix64(z: int) -> int:
    z = (z + _GOLDEN) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def h(*keys: int) -> int:
    """A 64-bit hash of integer keys."""
    return mix64(hash(keys) & MASK)


def u01(*keys: int) -> float:
    """A uniform float in [0, 1) from integer keys."""
    return (h(*keys) >> 11) * _INV53


def gauss(*keys: int) -> float:
    """A standard normal variate from integer keys (Box-Muller on two derived uniforms)."""
    z = h(*keys)
    # Two 32-bit uniforms from one 64-bit hash are plenty for smooth price noise.
    u1 = ((z >> 32) + 1) * _INV32
    u2 = (z & 0xFFFFFFFF) * _INV32
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(6.283185307179586 * u2)


class Stream:
    """A small sequential generator seeded from integer keys, for entities that need many draws."""

    __slots__ = ("_s",)

    def __init__(self, *keys: int) -> None:
        self._s = h(*keys)

    def next64(self) -> int:
        self._s = (self._s + _GOLDEN) & MASK
        return mix64(self._s)

    def random(self) -> float:
        return (self.next64() >> 11) * _INV53

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.random()

    def randint(self, a: int, b: int) -> int:
        """An int in [a, b] inclusive."""
        return a + self.next64() % (b - a + 1)

    def choice(self, seq):
        return seq[self.next64() % len(seq)]

    def weighted(self, items, weights):
        r = self.random() * sum(weights)
        for item, w in zip(items, weights):
            r -= w
            if r < 0:
                return item
        return items[-1]

    def gauss(self) -> float:
        u1 = ((self.next64() >> 11) + 1) * _INV53
        u2 = (self.next64() >> 11) * _INV53
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(6.283185307179586 * u2)

    def poisson(self, lam: float) -> int:
        if lam <= 0:
            return 0
        if lam > 30:
            return max(0, round(lam + math.sqrt(lam) * self.gauss()))
        limit = math.exp(-lam)
        n, p = 0, self.random()
        while p > limit:
            n += 1
            p *= self.random()
        return n

    def hexstr(self, n_chars: int) -> str:
        out = []
        while len(out) * 16 < n_chars:
            out.append(f"{self.next64():016x}")
        return "".join(out)[:n_chars]

    def digits(self, n: int) -> str:
        """A decimal string of exactly n digits with a non-zero first digit."""
        parts = [str(1 + self.next64() % 9)]
        while sum(len(p) for p in parts) < n:
            parts.append(f"{self.next64() % 10**18:018d}")
        return "".join(parts)[:n]


# Tags keep the key spaces of different quantities apart.
T_SLOT = 11
T_MARKET = 12
T_IDGAP = 13
T_NOISE = 14
T_BOOK = 15
T_TRADE = 16
T_TRADE_ANY = 17
T_WALLET = 18
T_EVENT = 19
T_FAULT = 20
T_LEVEL = 21
T_SPREAD = 22
T_INTENT = 23
