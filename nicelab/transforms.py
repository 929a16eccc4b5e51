"""The transform contract, composition and inversion.

Direction convention (the whole package uses it): ``forward`` maps data ``x`` to latent ``z`` and
``inverse`` maps ``z`` back to ``x``. Both return ``(output, log_det)`` where ``log_det`` has shape
``(batch,)``:

* ``forward(x) -> (z, log|det dz/dx|)``
* ``inverse(z) -> (x, log|det dx/dz|)``

so at matching points the two log-dets cancel. Invariants every transform keeps:
``inverse(forward(x)[0])[0] == x`` and ``forward(x)[1] == -inverse(forward(x)[0])[1]``.

Two class-level facts describe a transform to code that needs to know (instead of checking its type
or a name): ``volume_preserving`` (``log|det| ≡ 0``) and ``constant_log_det`` (the log-det does not
depend on the input; true of every volume-preserving map and of a diagonal scaling).

:class:`Compose` is the one place that walks a chain of layers: ``forward``, ``inverse``,
:meth:`Compose.stages` (every layer's output and log-det, for pictures) and
:meth:`Compose.initialize` (data-dependent initialisation, layer by layer).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from nicelab._checks import check_batch, check_positive_int


def _needs(build: object, cls: type) -> None:
    if build is None:
        raise ValueError(
            f"a {cls.__name__} rebuilds nested descriptions: pass build= (nicelab.flows.build_transform)"
        )


class Transform(nn.Module):
    """A bijection of ``R^dim`` with a tractable log-determinant (see the module docstring)."""

    #: ``log|det|`` is exactly 0 everywhere (e.g. a shift, an additive coupling)
    volume_preserving: bool = False

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = check_positive_int(dim, "dim")

    @property
    def constant_log_det(self) -> bool:
        """The log-det is the same at every input (always true of a volume-preserving map)."""
        return self.volume_preserving

    def _check(self, x: Tensor, name: str = "x") -> Tensor:
        return check_batch(x, self.dim, name)

    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this transform (see :func:`describe`); else ValueError."""
        raise ValueError(f"a {type(self).__name__} cannot be described by constructor arguments")

    @classmethod
    def from_config(
        cls, config: dict[str, Any], build: Callable[[Any], Transform] | None = None
    ) -> Transform:
        """The inverse of :meth:`config`; containers rebuild their nested descriptions with ``build``."""
        return cls(**config)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        """Map data to latent: ``(z, log|det dz/dx|)``."""
        raise NotImplementedError

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:  # pragma: no cover - abstract
        """Map latent to data: ``(x, log|det dx/dz|)``."""
        raise NotImplementedError

    @torch.no_grad()
    def initialize(self, x: Tensor, std: float, floor: float) -> Tensor:
        """Data-dependent initialisation from the batch ``x`` reaching this layer; returns the output.

        The default has nothing to set. Layers with data-dependent parameters (:class:`Shift`, the
        scaling) override it so that, walked in order by :class:`Compose`, the latent has roughly a
        per-coordinate spread ``std`` at step 0; ``floor`` bounds the spread estimates from below.
        """
        return self(x)[0]

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Identity(Transform):
    """``z = x`` with log-det 0 (the empty chain; what :meth:`Compose.chain` returns for no layers)."""

    volume_preserving = True

    def config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self._check(x)
        return x, x.new_zeros(x.shape[0])

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        self._check(z, "z")
        return z, z.new_zeros(z.shape[0])


class Compose(Transform):
    """``forward = f_K ∘ … ∘ f_1``; the log-dets of the steps add up (chain rule).

    ``steps`` is a list (children named ``"0"``, ``"1"``, …) or a mapping of names to transforms (the
    names become the children's names, hence the state-dict keys). A step may itself be a ``Compose``:
    :attr:`layers` flattens the nesting, and :meth:`stages` walks the flat layers one by one.
    """

    def __init__(self, steps: Iterable[Transform] | Mapping[str, Transform]) -> None:
        if isinstance(steps, Mapping):
            named = list(steps.items())
        else:
            named = [(str(i), t) for i, t in enumerate(steps)]
        if not named:
            raise ValueError("Compose needs at least one transform")
        bad = [type(t).__name__ for _, t in named if not isinstance(t, Transform)]
        if bad:
            raise ValueError(f"Compose takes nicelab Transforms, got {bad}")
        dims = {t.dim for _, t in named}
        if len(dims) != 1:
            raise ValueError(f"all transforms in Compose must share one dim, got dims {sorted(dims)}")
        super().__init__(named[0][1].dim)
        for name, step in named:
            self.add_module(name, step)

    @property
    def steps(self) -> list[Transform]:
        """The direct steps, in forward order."""
        # not children(): that skips a transform used twice in one chain
        return list(self._modules.values())  # type: ignore[arg-type]

    @property
    def layers(self) -> list[Transform]:
        """The steps with nested ``Compose`` s flattened: the chain :meth:`stages` walks."""
        flat: list[Transform] = []
        for step in self.steps:
            flat += step.layers if isinstance(step, Compose) else [step]
        return flat

    @property
    def volume_preserving(self) -> bool:  # type: ignore[override]
        return all(step.volume_preserving for step in self.steps)

    @property
    def constant_log_det(self) -> bool:
        return all(step.constant_log_det for step in self.steps)

    def config(self) -> dict[str, Any]:
        """``{"steps": {name: describe(step)}}``."""
        return {"steps": {name: describe(step) for name, step in self._modules.items()}}  # type: ignore[arg-type]

    @classmethod
    def from_config(
        cls, config: dict[str, Any], build: Callable[[Any], Transform] | None = None
    ) -> Transform:
        _needs(build, cls)
        return cls({name: build(spec) for name, spec in config["steps"].items()})

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Transform]:
        return iter(self.steps)

    def __getitem__(self, index: int) -> Transform:
        return self.steps[index]

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self._check(x)
        total = x.new_zeros(x.shape[0])
        for step in self.steps:
            x, log_det = step(x)
            total = total + log_det
        return x, total

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        self._check(z, "z")
        total = z.new_zeros(z.shape[0])
        for step in reversed(self.steps):
            z, log_det = step.inverse(z)
            total = total + log_det
        return z, total

    def stages(self, x: Tensor) -> list[tuple[Tensor, Tensor]]:
        """Every layer's ``(output, log|det|)`` in the forward direction, one entry per :attr:`layers`.

        Walks the flat layers one at a time (never a step's fused path), so it is also the reference
        that fused steps are tested against: the last output equals ``forward(x)[0]`` and the log-dets
        sum to ``forward(x)[1]``.
        """
        self._check(x)
        out = []
        for layer in self.layers:
            x, log_det = layer(x)
            out.append((x, log_det))
        return out

    def intermediates(self, x: Tensor) -> list[Tensor]:
        """States after each layer in the forward direction: ``[x, f_1(x), …, z]``."""
        return [x, *(state for state, _ in self.stages(x))]

    def chain(self, start: int = 0, stop: int | None = None) -> Transform:
        """The flat layers ``start:stop`` as one transform (shared, not copied; :class:`Identity` if none).

        E.g. ``chain(k)`` maps the state after ``k`` layers to the latent, and ``chain(k).inverse``
        pulls latent points back to that stage.
        """
        picked = self.layers[start:stop]
        return Compose(picked) if picked else Identity(self.dim)

    @torch.no_grad()
    def initialize(self, x: Tensor, std: float, floor: float) -> Tensor:
        """Initialise each step from the data that reaches it, in forward order; return the output."""
        for step in self.steps:
            x = step.initialize(x, std, floor)
        return x


class Inverse(Transform):
    """Swap the directions of ``transform``: ``Inverse(t).forward == t.inverse``."""

    def __init__(self, transform: Transform) -> None:
        super().__init__(transform.dim)
        self.base = transform

    @property
    def volume_preserving(self) -> bool:  # type: ignore[override]
        return self.base.volume_preserving

    @property
    def constant_log_det(self) -> bool:
        return self.base.constant_log_det

    def config(self) -> dict[str, Any]:
        return {"transform": describe(self.base)}

    @classmethod
    def from_config(
        cls, config: dict[str, Any], build: Callable[[Any], Transform] | None = None
    ) -> Transform:
        _needs(build, cls)
        return cls(build(config["transform"]))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.base.inverse(x)

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return self.base(z)


class Shift(Transform):
    """A fixed translation ``z = x - shift``; volume-preserving, so log_det is exactly 0.

    NICE uses it to centre data in the model (so reported likelihoods stay in data space);
    :meth:`initialize` sets ``shift`` to the data mean.
    """

    volume_preserving = True
    #: the stage's name in pictures (:meth:`nicelab.flows.Flow.layer_names`)
    label = "centre"

    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self.register_buffer("shift", torch.zeros(dim))

    def config(self) -> dict[str, Any]:
        return {"dim": self.dim}

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        self._check(x)
        return x - self.shift, x.new_zeros(x.shape[0])

    def inverse(self, z: Tensor) -> tuple[Tensor, Tensor]:
        self._check(z, "z")
        return z + self.shift, z.new_zeros(z.shape[0])

    @torch.no_grad()
    def initialize(self, x: Tensor, std: float, floor: float) -> Tensor:
        """``shift = mean(x)``: the output is centred."""
        self.shift.copy_(x.mean(dim=0))
        return self(x)[0]


def describe(transform: Transform) -> dict[str, Any]:
    """``{"type": class name, "config": transform.config()}``: plain data that names how to rebuild it.

    Nested chains describe their steps recursively; :func:`nicelab.flows.build_transform` inverts it.
    """
    return {"type": type(transform).__name__, "config": transform.config()}


__all__ = ["Compose", "Identity", "Inverse", "Shift", "Transform", "describe"]
