"""Exponential backoff with jitter, so many watches that fail together do not retry in lockstep."""

from __future__ import annotations

import random


class Backoff:
    def __init__(self, initial: float = 0.2, maximum: float = 30.0, factor: float = 2.0,
                 jitter: float = 0.2, rng: random.Random | None = None) -> None:
        self.initial, self.maximum, self.factor, self.jitter = initial, maximum, factor, jitter
        self._next = initial
        self._rng = rng or random.Random()

    def next(self) -> float:
        """The delay before the next attempt; each call grows the following one up to `maximum`."""
        base = self._next
        self._next = min(self.maximum, self._next * self.factor)
        return base * (1 + self._rng.uniform(-self.jitter, self.jitter))

    def reset(self) -> None:
        self._next = self.initial
