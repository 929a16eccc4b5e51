"""Checkpoints: atomic saves and safe (``weights_only=True``) loads of any flow.

A checkpoint is a plain dict ``{"format", "model", "config", "state_dict", ...extra}`` written by
``torch.save``: ``model`` names the flow's class (``"NICE"``, ``"CouplingFlow"``, ``"SplineFlow"`` or
``"Flow"``; a file without it, written before flows other than NICE were saved, holds a NICE), and
``config`` is what that class rebuilds the architecture from (``cls.from_config(config)``: the
constructor arguments, or for a plain :class:`~nicelab.flows.Flow` a description of every layer).

Guarantees:

* **Atomic saves.** :func:`atomic_torch_save` writes a temporary file next to the target, fsyncs it
  and renames it into place (``os.replace``), so at every instant ``path`` holds either the previous
  complete checkpoint or the new complete one. A save that fails (no permission, disk full) raises
  ``OSError`` saying so, removes its temporary file and leaves the previous checkpoint untouched. A
  process killed mid-save (SIGKILL) can leave only a ``.NAME.*.tmp`` file beside the target, which
  :func:`remove_stale_temporaries` clears.
* **Safe, strict loads.** :func:`read_checkpoint` never unpickles code (``weights_only=True``) and turns
  every way a file can be wrong (missing, a directory, unreadable, empty, random bytes, truncated,
  another kind of zip or torch file, another checkpoint format version, a missing config or
  state_dict) into one ``ValueError`` that names the file and says what is wrong.
  :func:`load_checkpoint` also refuses weights that do not fit the stored architecture (missing,
  extra or misshapen tensors) or are not finite, before it allocates the model.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from nicelab.flows import CouplingFlow, Flow
from nicelab.nice import NICE

#: the checkpoint format this version of nicelab writes and reads
FORMAT = "nicelab-checkpoint-v1"
_FORMAT_FAMILY = "nicelab-checkpoint-"


def _reason(err: BaseException) -> str:
    """A one-line account of ``err``: the OS reason for an OSError, else its first line, kept short."""
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    lines = str(err).strip().splitlines()
    text = lines[0] if lines else ""
    text = text if len(text) <= 160 else text[:157] + "..."
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _temporary_prefix(target: Path) -> str:
    return f".{target.name}."


class _WriteErrors:
    """A file wrapper that remembers why a write failed: torch reports it only as a bare RuntimeError."""

    def __init__(self, fh: Any) -> None:
        self.fh, self.error = fh, None

    def write(self, data: bytes) -> int:
        try:
            return self.fh.write(data)
        except OSError as err:
            self.error = err
            raise

    def flush(self) -> None:
        self.fh.flush()


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` to a temporary file in the same folder, fsync, then rename over ``path``.

    Raises ``OSError`` naming the target and the reason (no permission, disk full, a file where a
    folder should be) if the save fails; ``path`` then still holds whatever it held before.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(target), suffix=".tmp", dir=target.parent)
    except OSError as err:
        raise OSError(f"could not save checkpoint {target} ({_reason(err)})") from err
    writer = None
    try:
        with os.fdopen(fd, "wb") as fh:
            writer = _WriteErrors(fh)
            torch.save(obj, writer)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if not isinstance(err, (OSError, RuntimeError)):
            raise  # KeyboardInterrupt, or a programming error: not a failed disk write
        cause = writer.error if writer is not None and writer.error is not None else err
        raise OSError(
            f"could not save checkpoint {target} ({_reason(cause)}); the previous checkpoint there, "
            "if any, is unchanged"
        ) from err
    return target


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files that saves to ``path`` killed mid-write left behind; return them.

    Only files named like :func:`atomic_torch_save`'s temporaries for this very target are touched.
    Call it when no other process is saving to ``path``.
    """
    target = Path(path)
    if not target.parent.is_dir():
        return []
    stale = [p for p in target.parent.glob(f"{_temporary_prefix(target)}*.tmp") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Check that a checkpoint can be written at ``path`` (creating its folder); ``ValueError`` if not.

    Run before hours of training rather than at the first save: refuses a directory, a parent that is
    a file, and a folder this process may not create files in (tested by creating one).
    """
    target = Path(path)
    if target.is_dir():
        raise ValueError(f"cannot write checkpoint {target}: it is a directory; give a file path")
    if target.exists() and not target.is_file():  # e.g. /dev/null: a save would replace the device node
        raise ValueError(f"cannot write checkpoint {target}: it exists and is not a regular file")
    ancestor = target.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ValueError(f"cannot write checkpoint {target}: {ancestor} is a file, not a folder")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=_temporary_prefix(target), suffix=".tmp", dir=target.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise ValueError(f"cannot write checkpoint {target} ({_reason(err)})") from err
    return target


def flow_classes() -> dict[str, type[Flow]]:
    """The flow classes a checkpoint can name, by class name."""
    from nicelab.spline import SplineFlow  # imported here: the spline module builds on this one's imports

    return {cls.__name__: cls for cls in (Flow, NICE, CouplingFlow, SplineFlow)}


def save_checkpoint(path: str | os.PathLike[str], model: Flow, **extra: Any) -> Path:
    """Atomically save ``model`` (class name, config, state_dict) and any plain ``extra`` fields.

    ``model`` is a flow of a class :func:`flow_classes` names, whose config describes it (a layer
    with a custom conditioner network cannot be described: ``ValueError``). ``extra`` may nest dicts,
    lists and tuples of tensors, numbers, strings, booleans and None: what a ``weights_only=True``
    load reads back. Anything else raises ``ValueError`` before writing, so a save never produces a
    file that does not load.
    """
    known = flow_classes()
    if not isinstance(model, Flow) or known.get(type(model).__name__) is not type(model):
        raise ValueError(
            f"save_checkpoint expects a nicelab flow ({', '.join(sorted(known))}), got {type(model).__name__}"
        )
    for key in ("format", "model", "config", "state_dict"):
        if key in extra:
            raise ValueError(f"save_checkpoint: {key!r} is reserved; rename that extra field")
    for key, value in extra.items():
        _check_plain(value, key)
    config = model.config()
    _check_plain(config, "the model's config")
    payload = {"format": FORMAT, "model": type(model).__name__, "config": config}
    return atomic_torch_save({**payload, "state_dict": model.state_dict(), **extra}, path)


def _check_plain(value: Any, where: str) -> None:
    """``ValueError`` unless ``value`` is built from types a ``weights_only`` load accepts."""
    if value is None or isinstance(value, (bool, int, float, str, Tensor, torch.Size)):
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise ValueError(f"save_checkpoint: {where} has a key of type {type(key).__name__}")
            _check_plain(item, f"{where}[{key!r}]")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
        return
    raise ValueError(
        f"save_checkpoint: {where} is a {type(value).__name__}; extra fields must be tensors, numbers, "
        "strings, booleans, None, or dicts/lists/tuples of them"
    )


def _not_ours(source: Path, why: str) -> ValueError:
    return ValueError(f"{source}: not a nicelab checkpoint ({why})")


def _open_payload(source: Path) -> Any:
    """``torch.load(weights_only=True)`` of a file, every failure turned into one ``ValueError``."""
    if not source.exists():
        raise ValueError(f"no checkpoint at {source}")
    if source.is_dir():
        raise ValueError(f"{source} is a directory, not a checkpoint file")
    if not source.is_file():  # a FIFO or device would block or stream forever
        raise ValueError(f"{source} is not a regular file, so not a checkpoint")
    try:
        fh = source.open("rb")
    except OSError as err:
        raise ValueError(f"cannot read checkpoint {source} ({_reason(err)})") from err
    with fh:
        if os.fstat(fh.fileno()).st_size == 0:
            raise _not_ours(source, "the file is empty")
        try:
            with warnings.catch_warnings():  # e.g. "pickle protocol 4" for random bytes: we raise instead
                warnings.simplefilter("ignore")
                return torch.load(fh, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - any parse failure of a foreign file means "not ours"
            # torch's own text (miniz internals, weights_only advice) would mislead; the type is kept.
            # Even an OSError here is a parse failure (e.g. a seek to a garbage offset): the file opened.
            raised = type(err).__name__ + (f" ({err.strerror})" if isinstance(err, OSError) else "")
            why = f"corrupt, truncated or another kind of file: torch.load raised {raised}"
            raise _not_ours(source, why) from err


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load a checkpoint dict safely; ``ValueError`` if missing, unreadable or not a nicelab checkpoint.

    Checks the container only: a dict with this version's ``format``, a ``config`` dict and a
    ``state_dict`` of tensors. :func:`load_checkpoint` also checks the weights against the config.
    """
    source = Path(path)
    payload = _open_payload(source)
    if not isinstance(payload, dict):
        raise _not_ours(source, f"it holds a {type(payload).__name__}, not a checkpoint dict")
    found = payload.get("format")
    if not isinstance(found, str) or not found.startswith(_FORMAT_FAMILY):
        raise _not_ours(source, f"no format field {FORMAT!r}")
    if found != FORMAT:
        raise ValueError(
            f"{source}: checkpoint format {found!r}, but this nicelab reads {FORMAT!r}; "
            "it was written by another nicelab version"
        )
    if not isinstance(payload.setdefault("model", "NICE"), str):
        raise _not_ours(source, "its model field is not a class name")
    config, state = payload.get("config"), payload.get("state_dict")
    if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
        raise _not_ours(source, "its config is missing or not a dict of constructor arguments")
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise _not_ours(source, "its state_dict is missing or holds something other than tensors")
    return payload


def check_state_dict(source: str | os.PathLike[str], state: Any, expected: Flow) -> None:
    """``ValueError`` unless ``state`` has exactly ``expected``'s tensors and shapes, all finite floats.

    ``expected`` may live on the "meta" device (shapes only); ``source`` names the file in messages.
    """
    config = expected.config()
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise _not_ours(Path(source), "a state_dict is missing or holds something other than tensors")
    want = expected.state_dict()
    missing, extra = sorted(set(want) - set(state)), sorted(set(state) - set(want))
    wrong = [k for k in want if k in state and state[k].shape != want[k].shape]
    if missing or extra or wrong:
        parts = [f"missing {missing[:3]}" if missing else "", f"unexpected {extra[:3]}" if extra else ""]
        parts.append(f"wrong shape {[(k, tuple(state[k].shape)) for k in wrong[:3]]}" if wrong else "")
        detail = ", ".join(p for p in parts if p)
        raise ValueError(f"{source}: its weights do not fit architecture {config} ({detail})")
    for name, tensor in state.items():
        if not tensor.is_floating_point():
            raise ValueError(f"{source}: weight {name} has dtype {tensor.dtype}; expected floating point")
        if not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"{source}: weight {name} contains NaN or infinity (saved from a diverged run?)")


def load_checkpoint(path: str | os.PathLike[str], model: Flow | None = None) -> Flow:
    """Rebuild (or fill ``model``) from a checkpoint; ``ValueError`` for any broken or foreign file.

    The stored config is checked on a storage-free ("meta") model first, so a corrupt config can
    neither crash nor allocate a huge model; then the weights must match it tensor for tensor.
    Returns a flow of the stored class (a :class:`~nicelab.NICE` for files written before other flows).
    """
    source = Path(path)
    payload = read_checkpoint(source)
    name, config, state = payload["model"], payload["config"], payload["state_dict"]
    cls = flow_classes().get(name)
    if cls is None:
        raise _not_ours(source, f"it holds a {name!r}; this nicelab rebuilds {sorted(flow_classes())}")
    config = getattr(cls, "upgrade_config", lambda stored: stored)(config)  # older files' defaults
    if model is not None and (type(model) is not cls or model.config() != config):
        found = f"{type(model).__name__} {model.config() if isinstance(model, Flow) else ''}"
        raise ValueError(f"{source} holds architecture {name} {config}, but the model is {found}")
    try:
        with torch.device("meta"):
            skeleton = cls.from_config(config)
    except Exception as err:  # noqa: BLE001 - any constructor failure means the config is not a model's
        raise _not_ours(source, f"its config {config} does not describe a {name}: {_reason(err)}") from err
    check_state_dict(source, state, skeleton)
    if model is None:
        model = cls.from_config(config)
    model.load_state_dict(state)
    return model


__all__ = [
    "FORMAT",
    "atomic_torch_save",
    "check_state_dict",
    "check_writable",
    "flow_classes",
    "load_checkpoint",
    "read_checkpoint",
    "remove_stale_temporaries",
    "save_checkpoint",
]
