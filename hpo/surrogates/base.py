"""The surrogate interface: ``fit(X, y)`` and ``predict(X) -> Predictive``.

Acquisition functions see only :class:`Predictive`, so any surrogate (GP, deep kernel,
BNN, PFN) works with any acquisition, as BoTorch's ``Model.posterior -> Posterior`` does.

Conventions:
    * ``x_unit`` is the space's unit-cube encoding (:meth:`SearchSpace.encode`), an
      `n x d`-dim float64 array/tensor. Categorical columns hold their cell centres.
    * ``y`` is to be **maximized** (searchers negate minimized metrics), `n`-dim.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = ["Predictive", "BaseSurrogate"]


class Predictive(ABC):
    """A predictive distribution at a batch of points.

    Attributes:
        mean: `batch x q`-dim tensor of predictive means.
        variance: `batch x q`-dim tensor of predictive variances (latent function, no noise).
    """

    @property
    @abstractmethod
    def mean(self) -> torch.Tensor: ...

    @property
    @abstractmethod
    def variance(self) -> torch.Tensor: ...

    @abstractmethod
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """`n x batch x q`-dim joint samples over the ``q`` points of each batch.

        Samples are reparameterised (differentiable in the inputs) where the model allows.
        """


class BaseSurrogate(ABC):
    """A probabilistic regression model of the objective over the unit cube.

    Capabilities (class attributes, never type checks):

    Attributes:
        handles_categorical: Models categorical columns with a categorical kernel or
            encoding, not as ordered reals.
        botorch_model: After :meth:`fit`, a BoTorch ``Model`` view of the surrogate when one
            exists (lets MC acquisitions such as qLogNEI run natively), else None.
    """

    handles_categorical: ClassVar[bool] = False
    botorch_model: Any = None

    @abstractmethod
    def fit(self, x_unit: np.ndarray, y: np.ndarray, cat_dims: Mapping[int, int] | None = None) -> None:
        """Fit to `n x d`-dim inputs and `n`-dim targets (to be maximized).

        Args:
            x_unit: Encoded configs in ``[0, 1]``.
            y: Targets; finite.
            cat_dims: Column index -> number of categories, for categorical columns.
        """

    @abstractmethod
    def predict(self, x_unit: torch.Tensor) -> Predictive:
        """Predictive distribution at `batch x q x d`-dim (or `n x d`-dim) inputs."""
