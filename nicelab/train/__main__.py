"""Command line: ``python -m nicelab.train mnist --minutes M --out PATH [--resume] ...``.

Trains the paper's NICE on MNIST (see :func:`nicelab.train.mnist.train_mnist`), prints the test
log-likelihood in nats and bits/dim beside the paper's 1980.50 nats, and writes the checkpoint.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence

from nicelab.train.mnist import PAPER_TEST_LL, MnistRecipe, selected_evaluation, train_mnist

#: the recipe's defaults, read from the recipe dataclass itself so the command line never drifts from it
DEFAULTS = {f.name: f.default for f in dataclasses.fields(MnistRecipe)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nicelab.train", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="task", required=True)
    p = sub.add_parser("mnist", help="train NICE(784, 4, 1000, 5) on MNIST")
    p.add_argument("--minutes", type=float, help="training budget in minutes (evaluation excluded)")
    p.add_argument("--steps", type=int, help="training budget in Adam steps")
    p.add_argument("--out", required=True, help="checkpoint path (written atomically)")
    p.add_argument("--resume", action="store_true", help="continue from --out if it exists")
    p.add_argument("--batch-size", type=int, default=DEFAULTS["batch_size"])
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"], help="Adam lr of the couplings")
    p.add_argument("--scale-lr", type=float, default=DEFAULTS["scale_lr"], help="Adam lr of the log-scales")
    p.add_argument(
        "--warmup", type=int, default=DEFAULTS["warmup"], help="steps of linear lr warm-up for the couplings"
    )
    p.add_argument(
        "--weight-decay",
        type=float,
        default=DEFAULTS["weight_decay"],
        help="decoupled weight decay of the couplings' weight matrices",
    )
    p.add_argument(
        "--validation",
        type=int,
        default=DEFAULTS["validation"],
        help="hold out this many training images and keep the weights with the best LL on them",
    )
    p.add_argument(
        "--bf16", choices=["auto", "on", "off"], default="auto", help="bf16 autocast for training matmuls"
    )
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    p.add_argument("--eval-every", type=int, help="evaluate the test LL every N steps")
    p.add_argument("--eval-seconds", type=float, help="evaluate the test LL every S training seconds")
    p.add_argument("--root", help="folder with MNIST/raw/*.gz (default $NICELAB_DATA or the user cache)")
    p.add_argument("--sample", action="store_true", help="use the small bundled sample (a quick check)")
    p.add_argument("--hidden", type=int, default=1000, help="units per hidden layer (paper: 1000)")
    p.add_argument("--depth", type=int, default=5, help="hidden layers per coupling (paper: 5)")
    p.add_argument("--device", help="cpu or cuda (default: cuda when available)")
    p.add_argument("--threads", type=int, help="torch.set_num_threads")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.minutes is None and args.steps is None:
        build_parser().error("give --minutes and/or --steps")
    images = {}
    if args.sample:
        from nicelab.data import load_sample

        images = {"train_images": load_sample("train")[0], "test_images": load_sample("test")[0]}
    try:
        model, history = train_mnist(
            minutes=args.minutes,
            steps=args.steps,
            out=args.out,
            resume=args.resume,
            batch_size=args.batch_size,
            lr=args.lr,
            scale_lr=args.scale_lr,
            warmup=args.warmup,
            weight_decay=args.weight_decay,
            validation=args.validation,
            bf16={"on": True, "off": False, "auto": "auto"}[args.bf16],
            seed=args.seed,
            progress=not args.quiet,
            eval_every=args.eval_every,
            eval_seconds=args.eval_seconds,
            root=args.root,
            architecture={"dim": 784, "n_couplings": 4, "hidden": args.hidden, "depth": args.depth},
            device=args.device,
            threads=args.threads,
            **images,
        )
    except ValueError as err:  # bad arguments or a broken checkpoint: nothing was trained
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (OSError, FloatingPointError) as err:  # a save failed, or training diverged
        print(f"error: {err}", file=sys.stderr)
        return 1
    # the evaluation of the returned weights: the last one, or the best validated one (--validation)
    i = selected_evaluation(history)
    chosen = " (best validation LL)" if args.validation else ""
    print(
        f"step {history['eval_step'][i]:.0f}{chosen}, "
        f"{history['eval_seconds'][i] / 60:.2f} training minutes: "
        f"test LL {history['test_ll'][i]:.2f} nats = {history['test_bpd'][i]:.3f} bits/dim "
        f"(paper: {PAPER_TEST_LL} nats); checkpoint {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
