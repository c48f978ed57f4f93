#!/usr/bin/env python3
"""Average the weights of two checkpoints of the same network (a "model soup").

Two fine-tunings from one starting point stay in one basin of the loss, so their average is
a network too, and often a better one than either: on this project's small batches single
checkpoints swing by a few dB on single benchmark clips from one evaluation to the next, and
the average keeps what both agree on. The shipped checkpoint's fine-tuning started from the
average of the sharpest fine-tuning (``--sharpness-weight``) and the one before it, which
kept the PSNR of the one and most of the text sharpness of the other (see README, Measured).

    python tools/average_checkpoints.py runs/r18/step3500.pt runs/r21/step1500.pt --out soup.pt
"""

from __future__ import annotations

import argparse
from pathlib import Path

from streamdemoire.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint


def average(first: Checkpoint, second: Checkpoint, weight: float) -> Checkpoint:
    """``(1 - weight) * first + weight * second``, weight by weight, with ``second``'s meta
    plus a record of the average."""
    if first.config != second.config or first.state_dict.keys() != second.state_dict.keys():
        raise SystemExit("the two checkpoints are of different networks")
    state = {k: (1 - weight) * first.state_dict[k].float() + weight * second.state_dict[k].float()
             for k in first.state_dict}
    return Checkpoint(first.config, state, {**second.meta, "average_of": {
        "first": first.meta, "second_weight": weight}})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("first", type=Path)
    ap.add_argument("second", type=Path)
    ap.add_argument("--weight", type=float, default=0.5, help="the second checkpoint's share")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if not 0.0 <= args.weight <= 1.0:
        raise SystemExit("--weight must be in [0, 1]")
    soup = average(load_checkpoint(args.first), load_checkpoint(args.second), args.weight)
    save_checkpoint(args.out, soup.build(), soup.meta)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
