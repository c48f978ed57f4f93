"""Train the whole-frame coarse light corrector (``CoarseLight``) of a trained network.

The network is frozen; only the corrector learns, and it only ever sees thumbnails, so the
data is whole simulated frames at the sizes users film at (640x360 to 1280x720, landscape
and portrait) rather than the network's small training crops: the corrector exists because
a crop cannot show what a whole 720p frame's light looks like (docs/model.md).

Two steps, each resumable:

    python tools/train_coarse.py make --run runs/coarse --samples 3000 --workers 2
    python tools/train_coarse.py fit --run runs/coarse --out runs/coarse/demoire.pt

``make`` renders simulator pairs (seeds of their own, never the benchmark's) and stores, per
frame, the thumbnails of the input, of the network's output before the whole-frame steps and
of the clean twin, in shards under RUN/data; run it again for more. ``fit`` trains the
corrector on them to make the output's thumbnail, after the exposure is kept as the network
keeps it, match the clean one's, and writes the network with the corrector as a checkpoint.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train import TRAIN_SEED_BASE, git_revision  # noqa: E402

from streamdemoire.model.checkpoint import (  # noqa: E402
    DEFAULT_CHECKPOINT,
    Checkpoint,
    file_sha256,
    load_checkpoint,
    save_checkpoint,
)
from streamdemoire.model.net import CoarseLight, keep_exposure, pad_to_stride  # noqa: E402
from streamdemoire.synth.pairs import sample_pair  # noqa: E402

#: Frame seeds are [TRAIN_SEED_BASE, COARSE_STREAM, shard]: never a benchmark's (those are
#: single integers); the network's trainer draws [TRAIN_SEED_BASE, seed + step, worker],
#: which can meet these only for shards 0 and 1, by chance, and harmlessly.
COARSE_STREAM = 77
#: Frame sizes (width x height) and how often each is drawn: 720p, where the network's coarse
#: light goes most wrong, and the slowest to render, gets the largest share.
SIZES = "640x360:0.3,960x540:0.2,1280x720:0.35,640x480:0.1,360x640:0.05"
VAL_EVERY = 10  # every tenth shard is held out for validation


def parse_sizes(text: str) -> dict[tuple[int, int], float]:
    """``"WxH:weight,..."`` as {(height, width): weight}."""
    sizes = {}
    for item in text.split(","):
        size, weight = item.split(":")
        w, h = (int(v) for v in size.split("x"))
        sizes[(h, w)] = float(weight)
    return sizes


def frame_thumbnails(net: torch.nn.Module, moire: np.ndarray,
                     clean: np.ndarray) -> np.ndarray:
    """3 x 3 x GRID: the thumbnails of the input, the network's local output and the clean
    frame, padded as the engines pad (so the thumbnails are the ones the corrector will see)."""
    def tensor(img: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(img.copy()).permute(2, 0, 1)[None].float() / 255

    frames, _, _ = pad_to_stride(tensor(moire))
    target, _, _ = pad_to_stride(tensor(clean))
    with torch.no_grad():
        out, _ = net.local_output(frames)
    thumbs = [CoarseLight.thumbnail(x) for x in (frames, out.clamp(0.0, 1.0), target)]
    return torch.cat(thumbs).numpy()


@dataclass(frozen=True)
class ShardJob:
    """One shard of frames to render: a worker process's unit of work."""

    checkpoint: Path
    folder: Path
    shard: int
    frames: int
    sizes: dict[tuple[int, int], float]


def make_shard(job: ShardJob) -> Path:
    torch.set_num_threads(1)
    net = load_checkpoint(job.checkpoint).build()
    rng = np.random.default_rng([TRAIN_SEED_BASE, COARSE_STREAM, job.shard])
    sizes, weights = list(job.sizes), np.array(list(job.sizes.values()))
    thumbs, shapes = [], []
    for _ in range(job.frames):
        h, w = sizes[rng.choice(len(sizes), p=weights / weights.sum())]
        moire, clean, _ = sample_pair(rng, h, w)
        thumbs.append(frame_thumbnails(net, moire, clean))
        shapes.append((h, w))
    path = job.folder / f"shard{job.shard:05d}.npz"
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, thumbs=np.stack(thumbs).astype(np.float32), shapes=np.array(shapes))
    tmp.replace(path)
    return path


def make(args: argparse.Namespace) -> None:
    folder = args.run / "data"
    folder.mkdir(parents=True, exist_ok=True)
    done = sorted(folder.glob("shard*.npz"))
    first = max((int(p.stem[5:]) for p in done), default=-1) + 1
    todo = max(0, -(-args.samples // args.shard) - len(done))
    print(f"{len(done)} shards there, {todo} to render", flush=True)
    jobs = [ShardJob(args.checkpoint, folder, first + i, args.shard, parse_sizes(args.sizes))
            for i in range(todo)]
    start = time.time()
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        for k, path in enumerate(pool.imap_unordered(make_shard, jobs), 1):
            print(f"{path.name}: {k}/{todo} shards, {time.time() - start:.0f} s", flush=True)


def load_shards(folder: Path) -> tuple[torch.Tensor, torch.Tensor, list, list]:
    """Training and validation thumbnails (N x 3 x 3 x GRID) and their frame sizes."""
    train, val, train_shapes, val_shapes = [], [], [], []
    for path in sorted(folder.glob("shard*.npz")):
        blob = np.load(path)
        held_out = int(path.stem[5:]) % VAL_EVERY == 0
        (val if held_out else train).append(torch.from_numpy(blob["thumbs"]))
        (val_shapes if held_out else train_shapes).extend(map(tuple, blob["shapes"]))
    if not train or not val:
        raise SystemExit(f"too few shards in {folder} (need {VAL_EVERY + 1} or more)")
    return torch.cat(train), torch.cat(val), train_shapes, val_shapes


def corrected(corrector: CoarseLight | None, thumbs: torch.Tensor) -> torch.Tensor:
    """The output's thumbnail after the corrector and the network's exposure step."""
    thumb_in, thumb_out = thumbs[:, 0], thumbs[:, 1]
    if corrector is not None:
        thumb_out = thumb_out * corrector.log_gain(thumb_in, thumb_out).exp()
    return keep_exposure(thumb_out, thumb_in)


def thumbnail_psnr(corrector: CoarseLight | None, thumbs: torch.Tensor) -> torch.Tensor:
    """Per-frame PSNR of the corrected output's thumbnail against the clean one's."""
    with torch.no_grad():
        mse = (corrected(corrector, thumbs) - thumbs[:, 2]).pow(2).mean((1, 2, 3))
    return -10 * mse.clamp(min=1e-10).log10()


def flipped(thumbs: torch.Tensor) -> torch.Tensor:
    """Random left-right and up-down flips, per frame: shading has no favourite side."""
    lr = torch.rand(len(thumbs)) < 0.5
    ud = torch.rand(len(thumbs)) < 0.5
    thumbs = thumbs.clone()
    thumbs[lr] = thumbs[lr].flip(-1)
    thumbs[ud] = thumbs[ud].flip(-2)
    return thumbs


def report(corrector: CoarseLight, val: torch.Tensor, shapes: list) -> dict:
    before, after = thumbnail_psnr(None, val), thumbnail_psnr(corrector, val)
    scores = {"all": (before.mean().item(), after.mean().item())}
    for size in sorted(set(shapes)):
        pick = torch.tensor([s == size for s in shapes])
        scores[f"{size[1]}x{size[0]}"] = (before[pick].mean().item(), after[pick].mean().item())
    return {k: {"before": round(b, 2), "after": round(a, 2)} for k, (b, a) in scores.items()}


def fit(args: argparse.Namespace) -> None:
    torch.manual_seed(args.seed)
    train, val, _, val_shapes = load_shards(args.run / "data")
    print(f"{len(train)} training frames, {len(val)} held out", flush=True)
    corrector = CoarseLight()
    opt = torch.optim.AdamW(corrector.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, args.lr, total_steps=args.steps)
    for step in range(1, args.steps + 1):
        batch = flipped(train[torch.randint(len(train), (args.batch,))])
        loss = F.mse_loss(corrected(corrector, batch), batch[:, 2])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % args.eval_every == 0 or step == args.steps:
            print(f"step {step}: loss {loss.item():.6f}, held out "
                  f"{report(corrector, val, val_shapes)['all']}", flush=True)
    scores = report(corrector, val, val_shapes)
    print("held-out thumbnail PSNR (dB), before -> after:", flush=True)
    for key, value in scores.items():
        print(f"  {key}: {value['before']} -> {value['after']}", flush=True)
    save(args, corrector, len(train), scores)


def save(args: argparse.Namespace, corrector: CoarseLight, frames: int, scores: dict) -> None:
    base = load_checkpoint(args.checkpoint)
    state = dict(base.state_dict)
    state.update({f"coarse_light.{k}": v for k, v in corrector.state_dict().items()})
    net = Checkpoint(replace(base.config, coarse_light=True), state).build()
    meta = dict(base.meta)
    meta["coarse_light"] = {
        "base": {"path": str(args.checkpoint), "sha256": file_sha256(args.checkpoint)},
        "frames": frames, "steps": args.steps,
        "lr": args.lr, "batch": args.batch, "seed": args.seed,
        "seed_stream": [TRAIN_SEED_BASE, COARSE_STREAM], "held_out_thumbnail_psnr": scores,
        "git": git_revision()}
    save_checkpoint(args.out, net, meta)
    print(f"wrote {args.out}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("step", choices=["make", "fit"])
    ap.add_argument("--run", type=Path, default=Path("runs/coarse"))
    ap.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT,
                    help="the trained network (its own corrector, if any, is replaced)")
    ap.add_argument("--samples", type=int, default=3000, help="make: frames wanted in all")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--shard", type=int, default=25, help="make: frames per shard file")
    ap.add_argument("--sizes", default=SIZES, help="make: frame sizes, WxH:weight,...")
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, help="fit: where to write the checkpoint")
    args = ap.parse_args()
    if args.step == "make":
        make(args)
    else:
        if args.out is None:
            ap.error("fit needs --out")
        fit(args)


if __name__ == "__main__":
    main()
