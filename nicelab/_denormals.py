"""Flush subnormal floats to zero, for the whole process, from ``import nicelab`` on.

Why: once a weight's gradient is exactly 0 (a dead ReLU unit), Adam's first moment decays by 0.9
per step into the subnormal range (|x| < 1.2e-38 in float32), and x86 CPUs handle subnormals in
slow microcode. Measured on the paper-size MNIST NICE (19M parameters): after 900 steps a third of
Adam's first moments were subnormal and a fused Adam step took 141 ms instead of 14 ms, so training
ran 2.5x slower from about step 700 on. Flushing changes only values below 1.2e-38.

The flag is per thread and worker threads copy it when they are created, so it must be set before
torch's first parallel operation creates its thread pool: setting it later (even followed by
``torch.set_num_threads``) leaves the workers slow. That is why ``nicelab`` sets it on import.

Switch it off with the environment variable ``NICELAB_FLUSH_DENORMALS=0`` (or ``false``/``no``/``off``)
before importing nicelab, e.g. to study subnormals themselves or to match another program's arithmetic
bit for bit in that range.
"""

from __future__ import annotations

import os

import torch

_OFF = {"0", "false", "no", "off"}


def flush_wanted(environ: dict[str, str] | None = None) -> bool:
    """``False`` when ``NICELAB_FLUSH_DENORMALS`` (in ``environ``, default ``os.environ``) says off."""
    value = (environ if environ is not None else os.environ).get("NICELAB_FLUSH_DENORMALS", "")
    return value.strip().lower() not in _OFF


def flush_denormals() -> bool:
    """Turn on flush-to-zero / denormals-are-zero for this thread; ``False`` where unsupported."""
    return torch.set_flush_denormal(True)


#: whether subnormals are flushed in this process (x86 with SSE3: always, unless switched off)
FLUSHING = flush_denormals() if flush_wanted() else False
