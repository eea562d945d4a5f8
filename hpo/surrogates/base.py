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
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = ["Predictive", "BaseSurrogate"]


class Predictive(ABC):
    """The predictive distribution of the latent objective at a batch of point sets.

    For inputs of shape `batch_shape x q x d` (``batch_shape`` may be empty), the ``q``
    points of each batch are modelled jointly and the batches are separate problems.
    Everything describes the latent function, not a noisy observation of it.

    Attributes:
        mean: `batch_shape x q`-dim tensor of predictive means.
        variance: `batch_shape x q`-dim tensor of predictive variances of the latent
            function (observation noise excluded).
    """

    @property
    @abstractmethod
    def mean(self) -> torch.Tensor: ...

    @property
    @abstractmethod
    def variance(self) -> torch.Tensor: ...

    @abstractmethod
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """`n x batch_shape x q`-dim joint samples of the latent function.

        Requirements that the acquisitions rely on:

        * samples are joint over the ``q`` points of each batch (what qLogNEI and
          Thompson sampling need), with ``mean`` and ``variance`` as their moments;
        * all randomness comes from ``generator``: a generator seeded afresh gives the
          same samples again (common random numbers);
        * the base randomness is shared by every batch (as BoTorch's samplers do), so a
          point set's samples do not depend on which other batches are evaluated with it;
        * samples are reparameterised, i.e. differentiable in the inputs, where the model
          allows (``BaseSurrogate.differentiable``).
        """


class BaseSurrogate(ABC):
    """A probabilistic regression model of the objective over the unit cube.

    Capabilities (class attributes, never type checks):

    Attributes:
        differentiable: Predictions and samples are differentiable in the inputs, so the
            acquisition optimizer refines candidates by gradient (L-BFGS-B). When False,
            it relies on raw samples and local search only.
    """

    differentiable: ClassVar[bool] = True

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
        """Predictive distribution at `batch_shape x q x d`-dim inputs (`n x d`: one joint set)."""
