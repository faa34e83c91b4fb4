"""Online model of a step's wall time, used to size prefill chunks for an ITL target.

    t = a + b * new_tokens + c * context_tokens + d * attention_pairs

`new_tokens` are the tokens computed in the step (weights are read once per step, then every
token costs its matmul FLOPs), `context_tokens` is the K/V a step reads (sum of each chunk's
context length: what a decode costs, memory bound), and `attention_pairs` the (query, key)
pairs of the step's causal attention (what a long prefill chunk costs, compute bound; without
it the model would badly underestimate a chunk 100K tokens into a 128K resume).

The coefficients are fitted online by exponentially weighted least squares (forgetting factor
`decay`), regularized toward a prior so the model is sane before the first step and in
directions the data never excited.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Qwen2.5-7B bf16 on one H100-class GPU, rough: weights read per step ~5 ms, ~70 us per token
# of matmuls, ~17 ns per cached token read by a decode, ~1 ns per attention pair in prefill.
DEFAULT_PRIOR: tuple[float, float, float, float] = (5e-3, 7e-5, 1.7e-8, 1e-9)
# Typical feature magnitudes: the fit runs in these units so one ridge weight suits all.
_SCALES: tuple[float, float, float, float] = (1.0, 512.0, 65536.0, float(1 << 24))


@dataclass(frozen=True)
class StepShape:
    new_tokens: int = 0
    context_tokens: int = 0
    attention_pairs: int = 0

    @staticmethod
    def of_chunk(start: int, num_tokens: int) -> StepShape:
        """A chunk of `num_tokens` new tokens after `start` cached ones (causal attention)."""
        return StepShape(
            num_tokens,
            start + num_tokens,
            num_tokens * start + num_tokens * (num_tokens + 1) // 2,
        )

    @staticmethod
    def of_chunks(chunks: Iterable[tuple[int, int]]) -> StepShape:
        total = StepShape()
        for start, n in chunks:
            total = total + StepShape.of_chunk(start, n)
        return total

    def __add__(self, other: StepShape) -> StepShape:
        return StepShape(
            self.new_tokens + other.new_tokens,
            self.context_tokens + other.context_tokens,
            self.attention_pairs + other.attention_pairs,
        )

    def features(self) -> tuple[float, float, float, float]:
        return (
            1.0,
            float(self.new_tokens),
            float(self.context_tokens),
            float(self.attention_pairs),
        )


class StepCostModel:
    def __init__(
        self,
        prior: tuple[float, float, float, float] = DEFAULT_PRIOR,
        prior_weight: float = 0.1,
        decay: float = 0.98,
    ) -> None:
        if not 0.0 < decay <= 1.0:
            raise ValueError(f"decay must be in (0, 1], got {decay}")
        if prior_weight <= 0:
            raise ValueError(f"prior_weight must be > 0, got {prior_weight}")
        if any(p < 0 for p in prior):
            raise ValueError("prior coefficients must be >= 0")
        self.prior = prior
        self.prior_weight = prior_weight
        self.decay = decay
        self._xtx = [[0.0] * 4 for _ in range(4)]  # in scaled units
        self._xty = [0.0] * 4
        self.num_observations = 0
        self._coef = prior

    @property
    def coefficients(self) -> tuple[float, float, float, float]:
        """(a, b, c, d) in seconds, seconds per token, per context token, per pair."""
        return self._coef

    def predict(self, shape: StepShape) -> float:
        return sum(c * f for c, f in zip(self._coef, shape.features(), strict=True))

    def observe(self, shape: StepShape, step_time_s: float) -> None:
        if step_time_s < 0 or shape.new_tokens <= 0:
            return
        x = [f / s for f, s in zip(shape.features(), _SCALES, strict=True)]
        g = self.decay
        for i in range(4):
            self._xty[i] = g * self._xty[i] + x[i] * step_time_s
            row = self._xtx[i]
            for j in range(4):
                row[j] = g * row[j] + x[i] * x[j]
        self.num_observations += 1
        self._coef = self._solve()

    def _solve(self) -> tuple[float, float, float, float]:
        lam = self.prior_weight
        prior_scaled = [p * s for p, s in zip(self.prior, _SCALES, strict=True)]
        a = [row[:] for row in self._xtx]
        y = self._xty[:]
        for i in range(4):
            a[i][i] += lam
            y[i] += lam * prior_scaled[i]
        theta = _solve4(a, y)
        # A cost never shrinks with more work: clamp negative fits to zero.
        return tuple(max(0.0, t / s) for t, s in zip(theta, _SCALES, strict=True))  # type: ignore[return-value]

    def max_chunk(self, base: StepShape, start: int, limit: int, target_s: float) -> int:
        """Largest chunk (<= limit) after `start` cached tokens that keeps the predicted time
        of `base` plus the chunk under `target_s`; 0 if even one token overshoots."""
        lo, hi = 0, limit
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.predict(base + StepShape.of_chunk(start, mid)) <= target_s:
                lo = mid
            else:
                hi = mid - 1
        return lo


def _solve4(a: list[list[float]], y: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (the system is SPD thanks to the ridge)."""
    n = len(y)
    for col in range(n):
        piv = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[piv] = a[piv], a[col]
        y[col], y[piv] = y[piv], y[col]
        for r in range(col + 1, n):
            f = a[r][col] / a[col][col]
            for k in range(col, n):
                a[r][k] -= f * a[col][k]
            y[r] -= f * y[col]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (y[r] - sum(a[r][k] * x[k] for k in range(r + 1, n))) / a[r][r]
    return x
