"""What a trained flow has learnt: which latent dimensions matter, samples that vary only those, and
straight paths in latent space (lesson 06).

Work layer: it uses a trained model (a :class:`nicelab.NICE`, or any flow with a final ``Scaling`` layer,
a ``prior`` and ``inverse``) and imports the core only, never plots or widgets. The lesson 06 views
(``nicelab.widgets.mnist``) draw what these functions compute.

Direction: ``model.forward`` maps an image ``x`` to ``z = exp(s) ⊙ h``, where ``h`` is the output of the
couplings and ``s = model.scaling.log_scale``. The notes write the decoder, ``h = S z`` with the diagonal
``S_ii = exp(-s_i)``: latent dimension ``i`` moves the image more the larger ``S_ii`` (the smaller ``s_i``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from nicelab._checks import check_finite, check_generator, check_positive_int

__all__ = ["interpolate", "latent_importance", "sample_top_k"]


def _check_flow(model: object, *, sampling: bool = False) -> int:
    """The model's ``dim``, after checking it has what the function uses (a ``Scaling``, ``inverse`` …)."""
    dim = getattr(model, "dim", None)
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(
            f"model must be a nicelab flow with a positive integer dim, got {type(model).__name__}"
        )
    needed = ("inverse", "prior") if sampling else ("inverse",)
    missing = [name for name in needed if not hasattr(model, name)]
    if missing:
        raise ValueError(f"model must be a nicelab flow; {type(model).__name__} has no {', '.join(missing)}")
    return dim


def latent_importance(model: torch.nn.Module) -> tuple[Tensor, Tensor]:
    """``(order, S)``: the latent dims sorted most important first, and the notes' ``S_ii = exp(-s_i)``.

    The decoder multiplies ``z_i`` by ``S_ii`` before the couplings, so a large ``S_ii`` means that moving
    ``z_i`` moves the image a lot, and ``S_ii -> 0`` removes that dimension. ``order`` is
    ``argsort(S, descending)``: ``S[order]`` is non-increasing. Both have shape ``(dim,)``.

    Raises:
        ValueError: a model without a ``scaling.log_scale`` of shape ``(dim,)``.
    """
    dim = _check_flow(model)
    log_scale = getattr(getattr(model, "scaling", None), "log_scale", None)
    if not isinstance(log_scale, Tensor) or log_scale.shape != (dim,):
        raise ValueError(f"model must end in a Scaling layer: model.scaling.log_scale of shape ({dim},)")
    scale = torch.exp(-log_scale.detach())
    return torch.argsort(scale, descending=True), scale


@torch.no_grad()
def sample_top_k(
    model: torch.nn.Module,
    k: int,
    n: int,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """``n`` samples in which only the ``k`` most important latent dims are drawn; the rest stay at 0.

    With ``ε ~ T · prior`` (``n`` draws from ``generator``) and ``K`` the first ``k`` dims of
    :func:`latent_importance`'s order::

        z_i = ε_i if i ∈ K else 0,        x = f^{-1}(z)

    0 is the prior's mode and median, so ``k = 0`` gives the model's "central" image ``f^{-1}(0)`` ``n``
    times and ``k = dim`` gives ordinary samples at temperature ``T`` (the same ``ε`` for the same
    generator state, whatever ``k``). Returns an ``(n, dim)`` tensor.

    Raises:
        ValueError: ``k`` not an integer in ``[0, dim]``, ``n < 1``, a negative or non-finite temperature,
            a ``generator`` that is not a ``torch.Generator``, or a model that is not a flow with a scaling.
    """
    dim = _check_flow(model, sampling=True)
    if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= dim:
        raise ValueError(f"k must be an integer in [0, {dim}], got {k!r}")
    check_positive_int(n, "n")
    check_generator(generator)
    order, _ = latent_importance(model)
    eps = model.prior.sample(n, temperature=temperature, generator=generator)  # checks the temperature
    keep = torch.zeros(dim, dtype=torch.bool, device=eps.device)
    keep[order[:k]] = True
    return model.inverse(torch.where(keep, eps, torch.zeros_like(eps)))[0]


def _check_image(x: object, dim: int, name: str) -> Tensor:
    if not isinstance(x, Tensor) or x.shape != (dim,) or not x.is_floating_point():
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"a and b must be single images, float tensors of shape ({dim},); {name} is {shape}")
    return check_finite(x, name)


@torch.no_grad()
def interpolate(model: torch.nn.Module, a: Tensor, b: Tensor, ts: Tensor) -> tuple[Tensor, Tensor]:
    """Images on the straight latent path between ``a`` and ``b``, and on the straight pixel path.

    For each mixing weight ``t`` in ``ts``::

        latent path:  x(t) = f^{-1}((1 - t) f(a) + t f(b))        pixel path:  (1 - t) a + t b

    so both paths start at ``a`` (``t = 0``) and end at ``b`` (``t = 1``) up to float round-off (``f`` is
    invertible). Weights outside ``[0, 1]`` extrapolate.

    Args:
        model: a flow of dimension ``dim`` (``forward`` ``x -> z`` and ``inverse``).
        a, b: single images of shape ``(dim,)``.
        ts: a non-empty 1-D tensor of mixing weights.

    Returns:
        ``(latent_path, pixel_path)``, two ``(len(ts), dim)`` tensors in ``a``'s dtype.

    Raises:
        ValueError: images that are not ``(dim,)`` finite float tensors, or ``ts`` that is not a non-empty,
            finite 1-D tensor.
    """
    dim = _check_flow(model)
    a, b = _check_image(a, dim, "a"), _check_image(b, dim, "b")
    if not isinstance(ts, Tensor) or ts.dim() != 1 or ts.numel() == 0:
        raise ValueError("ts must be a non-empty 1-D tensor of mixing weights")
    t = check_finite(ts.to(a), "ts").view(-1, 1)
    z = model(torch.stack([a, b]))[0]
    latent_path = model.inverse((1 - t) * z[0] + t * z[1])[0]
    return latent_path, (1 - t) * a + t * b
