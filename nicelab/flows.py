"""A flow is a transform plus a prior; coupling flows are flows built from a chain of couplings.

:class:`Flow` (as nflows' ``Flow(transform, distribution)`` or zuko's ``Flow(transform, base)``) pairs a
bijection ``f`` (data -> latent) with a factorised prior ``p_Z``. By the change of variables, in our
forward direction,

    log p(x) = log p_Z(f(x)) + log|det ∂f/∂x|,        sampling: x = f^{-1}(T·ε), ε ~ p_Z.

Everything else (intermediate stages, data-dependent initialisation) is walked by the transform's
:class:`~nicelab.transforms.Compose`, never by a loop here.

:class:`CouplingFlowBase` is the architecture NICE introduced, with the coupling class left open::

    x --Shift--> x - μ --c_1--> … --c_K--> h --Scaling--> z = exp(s) ⊙ h

so ``log p(x) = log p_Z(z) + Σ_k log|det ∂c_k/∂·| + Σ_i s_i``. :class:`nicelab.NICE` fills it with
additive couplings (every ``c_k`` has log-det 0); :class:`CouplingFlow` (lesson 08) picks the coupling by
name, ``"additive"`` or ``"affine"`` (log-det ``Σ_j s_j(x_keep)``, which depends on ``x``). The layers
are children named ``shift``, ``couplings`` (a :class:`~nicelab.coupling.CouplingChain`) and ``scaling``,
so NICE, additive and affine flows share state-dict keys (``couplings.0.m.0.weight``, …).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from nicelab._checks import check_batch, check_positive_int
from nicelab.coupling import AdditiveCoupling, AffineCoupling, Coupling, CouplingChain
from nicelab.priors import PRIORS, Prior, make_prior
from nicelab.scaling import Scaling
from nicelab.transforms import Compose, Identity, Inverse, Shift, Transform, describe

#: the transforms :func:`build_transform` rebuilds, by class name
TRANSFORM_TYPES: dict[str, type[Transform]] = {
    cls.__name__: cls
    for cls in (Identity, Shift, Scaling, Compose, Inverse, CouplingChain, AdditiveCoupling, AffineCoupling)
}


def build_transform(spec: Any) -> Transform:
    """Rebuild a transform from :func:`~nicelab.transforms.describe`'s ``{"type", "config"}``.

    Invariant: ``build_transform(describe(t))`` has ``t``'s architecture (and its state-dict keys);
    ``ValueError`` for anything else.
    """
    if not (isinstance(spec, dict) and isinstance(spec.get("config"), dict)):
        raise ValueError(f"a transform description is a dict with 'type' and a 'config' dict, got {spec!r}")
    kind, config = spec.get("type"), spec["config"]
    if kind not in TRANSFORM_TYPES:
        raise ValueError(f"unknown transform type {kind!r}; expected one of {sorted(TRANSFORM_TYPES)}")
    return TRANSFORM_TYPES[kind].from_config(config, build_transform)


class Flow(Transform):
    """A normalizing flow: ``transform`` (data -> latent) and a ``prior`` on the latent.

    ``forward``/``inverse`` are the transform's (inputs must be finite: one check at the flow's entry,
    not in every layer). The transform is held as a :class:`~nicelab.transforms.Compose` (a bare
    transform is wrapped in one) whose steps become the flow's own children: a flow's state dict is
    exactly its transform's (the priors keep no persistent state), and its steps are attributes
    (``flow.shift``, ``flow.couplings``, … when the ``Compose`` names them so).

    Invariants: ``log_prob(x) == prior.log_prob(forward(x)[0]) + forward(x)[1]``, and
    ``sample(n, temperature=0)`` is ``n`` copies of ``inverse(0)`` (the image of the prior's mode).
    """

    def __init__(self, transform: Transform, prior: Prior) -> None:
        if not isinstance(transform, Transform):
            raise ValueError(f"transform must be a nicelab Transform, got {type(transform).__name__}")
        if not isinstance(prior, Prior):
            raise ValueError(f"prior must be a nicelab Prior (e.g. Logistic), got {type(prior).__name__}")
        if prior.dim != transform.dim:
            raise ValueError(f"the prior has dim {prior.dim} but the transform has dim {transform.dim}")
        super().__init__(transform.dim)
        self._adopt(transform if isinstance(transform, Compose) else Compose([transform]))
        self.prior = prior

    def config(self) -> dict[str, Any]:
        """``{"transform": describe(transform), "prior": name}``: what :meth:`from_config` rebuilds from."""
        names = {cls: name for name, cls in PRIORS.items()}
        if type(self.prior) not in names:
            raise ValueError(f"a {type(self.prior).__name__} prior cannot be described by a config")
        return {"transform": describe(self.transform), "prior": names[type(self.prior)]}

    @classmethod
    def from_config(cls, config: dict[str, Any], build: Callable[[Any], Transform] | None = None) -> Flow:
        """Rebuild the architecture :meth:`config` describes (fresh weights)."""
        if not (isinstance(config, dict) and set(config) == {"transform", "prior"}):
            raise ValueError(f"a Flow config has exactly the keys 'transform' and 'prior', got {config!r}")
        transform = build_transform(config["transform"])
        return cls(transform, make_prior(config["prior"], transform.dim))

    def _adopt(self, chain: Compose) -> None:
        """Hold ``chain`` unregistered and register its steps here (so state-dict keys are the chain's)."""
        clash = sorted(set(chain._modules) & {"prior", "transform"})
        if clash:
            raise ValueError(f"a flow's transform may not name a step {clash[0]!r}")
        for name, step in chain._modules.items():
            self.add_module(name, step)
        self.__dict__["_transform"] = chain

    @property
    def transform(self) -> Compose:
        """The chain data -> latent (its steps are this flow's children)."""
        return self.__dict__["_transform"]

    @property
    def layers(self) -> list[Transform]:
        """The flat chain of layers in forward order (nested chains unrolled)."""
        return self.transform.layers

    @property
    def volume_preserving(self) -> bool:  # type: ignore[override]
        return self.transform.volume_preserving

    @property
    def constant_log_det(self) -> bool:
        return self.transform.constant_log_det

    def train(self, mode: bool = True) -> Flow:
        super().train(mode)
        self.transform.training = mode  # the chain is not a registered child, so set its own flag
        return self

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(z, log|det dz/dx|)``; ``x`` must be finite (``ValueError`` naming NaN/±inf otherwise)."""
        check_batch(x, self.dim, "x", finite=True)
        return self.transform(x)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """``(x, log|det dx/dz|)``, the layers undone in reverse order; ``z`` must be finite."""
        check_batch(z, self.dim, "z", finite=True)
        return self.transform.inverse(z)

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact ``log p(x) = log p_Z(f(x)) + log|det ∂f/∂x|`` in nats, shape ``(batch,)``; ``x`` finite."""
        z, log_det = self(x)  # checks x
        # The prior's unchecked density: a finite x whose z overflowed (a diverged model) must reach
        # the loss as -inf/NaN, which the training loops report as divergence (FloatingPointError).
        return self.prior._log_density(z).sum(dim=1) + log_det

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, generator: torch.Generator | None = None) -> Tensor:
        """Draw ``n`` samples ``x = f^{-1}(T·ε)``, ``ε ~ prior``, ``T = temperature``; shape ``(n, dim)``."""
        return self.inverse(self.prior.sample(n, temperature=temperature, generator=generator))[0]

    def stages(self, x: Tensor) -> list[tuple[Tensor, Tensor]]:
        """Each layer's ``(output, log|det|)`` in forward order (see :meth:`Compose.stages`); ``x`` finite."""
        check_batch(x, self.dim, "x", finite=True)
        return self.transform.stages(x)

    def intermediates(self, x: Tensor) -> list[Tensor]:
        """States after each layer, input first and latent last (see :meth:`layer_names`)."""
        return [x, *(state for state, _ in self.stages(x))]

    def layer_names(self) -> list[str]:
        """Names matching :meth:`intermediates`: ``"input"``, then one per layer, the last marked latent."""
        names, n_couplings = ["input"], 0
        for layer in self.layers:
            if isinstance(layer, Coupling):
                n_couplings += 1
                side = "even" if layer.parity == 0 else "odd"
                names.append(f"{layer.kind} coupling {n_couplings} (updates {side})")
            else:
                names.append(getattr(layer, "label", type(layer).__name__.lower()))
        names[-1] += " (latent)"
        return names

    @torch.no_grad()
    def init_from_data(self, x: Tensor, floor: float = 0.05) -> Flow:
        """Data-dependent initialisation, layer by layer: the latent has roughly the prior's scale at step 0.

        Each layer is initialised from the data that reaches it (:meth:`Compose.initialize`): a
        :class:`~nicelab.transforms.Shift` takes the data mean, a :class:`~nicelab.scaling.Scaling` sets
        ``s_i = log(std_prior) - log(max(std_i, floor))`` from the spread of its input. The floor matters:
        almost constant pixels would otherwise get a huge ``exp(s)`` that stalls training. Returns ``self``.
        """
        check_batch(x, self.dim, "x", finite=True)
        if x.shape[0] < 2:
            raise ValueError("init_from_data needs at least 2 samples to estimate a spread")
        finite = isinstance(floor, (int, float)) and not isinstance(floor, bool) and math.isfinite(floor)
        if not (finite and floor > 0):
            raise ValueError(f"floor must be a positive finite number, got {floor!r}")
        self.transform.initialize(x, self.prior.std, floor)
        return self


class CouplingFlowBase(Flow):
    """Shift, ``n_couplings`` couplings of class ``coupling`` (parities 0, 1, 0, …), scaling, and a prior.

    Args:
        dim: data dimension (>= 2).
        coupling: a :class:`~nicelab.coupling.Coupling` subclass, built as
            ``coupling(dim, parity, hidden=hidden, depth=depth, **options)``.
        n_couplings: number of coupling layers.
        hidden, depth: each coupling's MLP has ``depth`` hidden layers of ``hidden`` ReLU units.
        prior: ``"logistic"`` or ``"gaussian"``.
    """

    def __init__(
        self,
        dim: int,
        coupling: type[Coupling],
        n_couplings: int = 4,
        hidden: int = 1000,
        depth: int = 5,
        prior: str = "logistic",
        **options: Any,
    ) -> None:
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2:
            raise ValueError(f"{type(self).__name__} needs dim >= 2, got {dim!r}")
        check_positive_int(n_couplings, "n_couplings")
        chain = CouplingChain(
            [coupling(dim, i % 2, hidden=hidden, depth=depth, **options) for i in range(n_couplings)]
        )
        layers = Compose({"shift": Shift(dim), "couplings": chain, "scaling": Scaling(dim)})
        super().__init__(layers, make_prior(prior, dim))
        #: display name of the couplings (e.g. ``"additive"``): pictures and configs, never branching
        self.coupling = chain[0].kind
        self.n_couplings, self.hidden, self.depth, self.prior_name = n_couplings, hidden, depth, prior

    def config(self) -> dict[str, Any]:
        """The constructor arguments; ``type(flow)(**flow.config())`` rebuilds the architecture."""
        return {
            "dim": self.dim,
            "n_couplings": self.n_couplings,
            "hidden": self.hidden,
            "depth": self.depth,
            "prior": self.prior_name,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], build: Callable[[Any], Transform] | None = None) -> Flow:
        """``cls(**config)``: the config holds the constructor arguments."""
        if not isinstance(config, dict):
            raise ValueError(f"a {cls.__name__} config is a dict of constructor arguments, got {config!r}")
        return cls(**config)

    def coupling_log_det(self, x: Tensor) -> Tensor:
        """``Σ_k log|det ∂c_k|`` per sample, shape ``(batch,)``: 0 for additive, x-dependent otherwise."""
        check_batch(x, self.dim, "x", finite=True)
        return self.couplings(self.shift(x)[0])[1]

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.config().items())


#: coupling types a :class:`CouplingFlow` can use, by name
COUPLINGS: dict[str, type[Coupling]] = {"additive": AdditiveCoupling, "affine": AffineCoupling}


class CouplingFlow(CouplingFlowBase):
    """Lesson 08's coupling flow: NICE's layers with the coupling chosen by name.

    Args:
        dim: data dimension.
        coupling: ``"additive"`` (NICE; a NICE state dict loads into it) or ``"affine"`` (Real NVP-style,
            bounded log-scale).
        n_couplings, hidden, depth: as in :class:`nicelab.NICE`.
        prior: ``"logistic"`` or ``"gaussian"``.
        bound: the affine couplings' log-scale bound (``None``: :class:`AffineCoupling`'s default);
            only for couplings that have one.
    """

    #: the affine bound of checkpoints written before the default went from 2 to 1 (their config has none)
    LEGACY_AFFINE_BOUND = 2.0

    def __init__(
        self,
        dim: int,
        coupling: str = "additive",
        n_couplings: int = 4,
        hidden: int = 1000,
        depth: int = 5,
        prior: str = "logistic",
        bound: float | None = None,
    ) -> None:
        if not isinstance(coupling, str) or coupling not in COUPLINGS:
            raise ValueError(f"coupling must be one of {sorted(COUPLINGS)}, got {coupling!r}")
        options = {} if bound is None else {"bound": bound}
        if options and "bound" not in inspect.signature(COUPLINGS[coupling]).parameters:
            raise ValueError(f"bound applies to couplings with a bounded log-scale, not {coupling!r}")
        super().__init__(dim, COUPLINGS[coupling], n_couplings, hidden, depth, prior, **options)

    def config(self) -> dict[str, Any]:
        """The constructor arguments; ``CouplingFlow(**flow.config())`` rebuilds the architecture."""
        config = super().config()
        config = {"dim": config.pop("dim"), "coupling": self.coupling, **config}
        bound = getattr(self.couplings[0], "bound", None)
        return config if bound is None else config | {"bound": bound}

    @classmethod
    def upgrade_config(cls, config: Any) -> Any:
        """A stored config as this version reads it: an affine one without ``bound`` gets the old default."""
        if isinstance(config, dict) and config.get("coupling") == "affine" and "bound" not in config:
            return config | {"bound": cls.LEGACY_AFFINE_BOUND}
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], build: Callable[[Any], Transform] | None = None) -> Flow:
        """``cls(**config)``, after :meth:`upgrade_config`."""
        return super().from_config(cls.upgrade_config(config), build)


__all__ = ["COUPLINGS", "TRANSFORM_TYPES", "CouplingFlow", "CouplingFlowBase", "Flow", "build_transform"]
