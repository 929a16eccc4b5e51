"""The randomness policy's two helpers: a local generator from a seed, and generator-drawn initial weights.

The library never reseeds torch's (or numpy's, or Python's) global random number generator: code that
draws randomness takes a ``torch.Generator``. A caller who wants reproducible runs seeds the global
generator once, at the top (as every lesson does), and passes ``seed=`` or a generator to training.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def make_generator(
    seed: int | None = None, generator: torch.Generator | None = None, device: str | torch.device = "cpu"
) -> torch.Generator:
    """``generator`` itself, else a new one on ``device`` seeded with ``seed``.

    ``seed=None`` takes the seed from one draw of torch's global generator (it is used, never reseeded):
    a script or notebook that seeded that generator once at the top stays reproducible.

    Raises:
        ValueError: both given, a seed that is not a non-negative integer, or a generator of another type.
    """
    if generator is not None:
        if seed is not None:
            raise ValueError("give seed or generator, not both")
        if not isinstance(generator, torch.Generator):
            raise ValueError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        return generator
    made = torch.Generator(device=device)
    if seed is None:
        return made.manual_seed(int(torch.randint(0, 2**62, (), dtype=torch.int64)))
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
    return made.manual_seed(seed)


@torch.no_grad()
def reset_linear_layers(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Redraw every ``nn.Linear`` of ``model`` from ``generator`` with torch's default initialisation.

    That default is ``W ~ U(-1/√fan_in, 1/√fan_in)`` (Kaiming-uniform with ``a = √5``) and the same bound
    for the bias. The draws happen on ``generator``'s device and are copied to the weights', so the
    initial weights depend on the generator's seed only, not on the device or the global RNG.
    """
    for layer in model.modules():
        if isinstance(layer, nn.Linear):
            bound = 1.0 / math.sqrt(layer.in_features) if layer.in_features > 0 else 0.0
            for param in (layer.weight, layer.bias):
                if param is None:
                    continue
                draw = torch.rand(
                    param.shape, generator=generator, device=generator.device, dtype=param.dtype
                )
                param.copy_((2.0 * draw - 1.0) * bound)
    return model


__all__ = ["make_generator", "reset_linear_layers"]
