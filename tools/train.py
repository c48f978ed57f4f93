#!/usr/bin/env python3
"""Train the demoiré network on simulator pairs generated on the fly.

Data: worker processes render fresh (moiré, clean) pairs with ``streamdemoire.synth`` from
seeds that never overlap the benchmark's; the trainer keeps them in a replay pool and draws
random crops and flips from it, so each costly render feeds several steps.

Loss: MSE, plus MSE at quarter resolution (which weighs the long, low-contrast bands), plus
optionally an L1 on the 2-D spectrum (``--freq-weight``), an L1 on the image gradients
(``--edge-weight``) and one on each tile's RMS gradient (``--sharpness-weight``): the last two
keep text crisp, see :func:`loss_fn`. ``--residual-lowpass-weight`` penalises the coarse
part of the network's residual, so coarse light is left to the shading gain (see
:func:`residual_lowpass`).

Weights: an exponential moving average of the trained weights (``--ema``, as Real-ESRGAN
keeps one) is what is evaluated and saved: single steps' weights swung by 2 dB on one
benchmark clip from one evaluation to the next.

Checkpoints: ``--run DIR`` holds ``last.pt`` (weights, their average, optimizer, step:
``--resume`` continues from it) and ``best.pt``; ``--ship`` copies the best into the
package's weights. Every checkpoint carries its architecture, data config, eval scores and
git revision.

    python tools/train.py --run runs/main --steps 20000 --ship
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import random
import shutil
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import click
import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torch.utils.data import DataLoader, IterableDataset

from streamdemoire.allocator import release_freed_memory
from streamdemoire.model.checkpoint import (
    DEFAULT_CHECKPOINT,
    Checkpoint,
    file_sha256,
    load_checkpoint,
    save_checkpoint,
)
from streamdemoire.model.net import DemoireNet, NetConfig
from streamdemoire.quality import psnr, text_sharpness
from streamdemoire.synth.command import FrameSize
from streamdemoire.synth.pairs import pair_for_seed, sample_pair

#: Training seeds start here; benchmark seeds stay below it.
TRAIN_SEED_BASE = 1_000_000
VAL_SEEDS = range(900, 924)
#: A data worker gives its freed memory back every this many pairs: 80 pairs took 24 s without
#: trimming, 38 s trimming after every pair (the pages fault in again) and 28 s after every
#: tenth, and both held the worker to the same size (see ``allocator.release_freed_memory``).
TRIM_EVERY = 10


#: A frame's (width, height) in pixels.
Shape = tuple[int, int]


def frame_shape(text: str) -> Shape:
    """``--render`` and ``--crop``: SIDE for a square, else WIDTHxHEIGHT, checked as
    ``streamdemoire synth --size`` checks it (even sides: the network's pixel unshuffle
    halves a crop)."""
    side = text.strip()
    try:
        return FrameSize().convert(f"{side}x{side}" if side.isdigit() else side, None, None)
    except click.BadParameter as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


class SimulatedPairs(IterableDataset):
    """An endless stream of fresh simulator pairs; each worker draws its own seeds."""

    def __init__(self, size: Shape, seed: int) -> None:
        self.size, self.seed = size, seed

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        if info is not None:  # a worker process: leave the cores to the training loop
            torch.set_num_threads(1)
        wid = info.id if info else 0
        rng = np.random.default_rng([TRAIN_SEED_BASE, self.seed, wid])
        for made in itertools.count(1):
            width, height = self.size
            moire, clean, _ = sample_pair(rng, height, width)
            if made % TRIM_EVERY == 0:
                release_freed_memory()
            yield torch.from_numpy(moire.copy()), torch.from_numpy(clean.copy())


class ReplayPool:
    """Recent pairs kept in memory; batches are random crops and flips drawn from them.

    ``downscale``: the share of batches taken from the pairs shrunk first (by 2 to 3 times,
    one factor per batch, with an antialiasing filter, as a phone scales its sensor down for
    video), so that one pool of large renders also shows the network whole, smaller views:
    large renders alone taught it 720p frames' light at the cost of the 640x360 clips
    (docs/model.md). With whole frames (a crop of the renders' shape) a shrunk view is the
    whole frame shrunk, so 1280x720 renders train whole 720p frames and whole frames of
    640x360 and below together.
    """

    def __init__(self, capacity: int, downscale: float = 0.0) -> None:
        self.capacity = capacity
        self.downscale = downscale
        self.items: list[tuple[torch.Tensor, torch.Tensor]] = []

    def add(self, moire: torch.Tensor, clean: torch.Tensor) -> None:
        item = (moire.permute(2, 0, 1).contiguous(), clean.permute(2, 0, 1).contiguous())
        if len(self.items) < self.capacity:
            self.items.append(item)
        else:
            self.items[random.randrange(self.capacity)] = item

    def batch(self, n: int, crop: Shape) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` random crops of ``crop`` (width, height), randomly flipped; a crop the size
        of the renders is the whole frame, with the frame's edges and its whole light."""
        xs, ys = [], []
        factor = random.uniform(2.0, 3.0) if random.random() < self.downscale else None
        for moire, clean in random.sample(self.items, n):
            width, height = crop
            if factor is not None:
                whole = moire.shape[1:] == (height, width)
                moire, clean = shrunk(moire, clean, factor, None if whole else crop)
                if whole:  # even: the network's pixel unshuffle halves it
                    height, width = (side - side % 2 for side in moire.shape[1:])
            h, w = moire.shape[1:]
            top, left = random.randint(0, h - height), random.randint(0, w - width)
            x = moire[:, top:top + height, left:left + width]
            y = clean[:, top:top + height, left:left + width]
            if random.random() < 0.5:
                x, y = x.flip(-1), y.flip(-1)
            if random.random() < 0.5:
                x, y = x.flip(-2), y.flip(-2)
            xs.append(x)
            ys.append(y)
        return torch.stack(xs).float() / 255, torch.stack(ys).float() / 255


def shrunk(moire: torch.Tensor, clean: torch.Tensor, factor: float,
           crop: Shape | None) -> tuple[torch.Tensor, torch.Tensor]:
    """The uint8 C x H x W pair made ``factor`` times smaller (antialiased bilinear), but
    never smaller than ``crop`` (where one is given)."""
    h, w = moire.shape[1:]
    width, height = crop or (1, 1)  # without a crop, no floor but a pixel
    factor = min(factor, h / height, w / width)
    size = (max(height, round(h / factor)), max(width, round(w / factor)))
    pair = torch.stack([moire, clean]).float()
    small = F.interpolate(pair, size=size, mode="bilinear", antialias=True, align_corners=False)
    small = small.round_().clamp_(0, 255).to(torch.uint8)
    return small[0], small[1]


def local_sharpness(img: torch.Tensor, window: int = 8) -> torch.Tensor:
    """Root-mean-square image gradient over ``window`` x ``window`` tiles (N x 1 x h x w)."""
    energy = img.diff(dim=-1)[..., :-1, :].square() + img.diff(dim=-2)[..., :, :-1].square()
    return F.avg_pool2d(energy.sum(1, keepdim=True), window).add(1e-8).sqrt()


#: Side of the blocks whose mean residual ``--residual-lowpass-weight`` penalises: longer than
#: the moiré periods the residual must cancel at the training crops' scale, shorter than the
#: ramps and falloffs that belong to the shading gain.
RESIDUAL_LOWPASS_BLOCK = 32


def residual_lowpass(residual: torch.Tensor) -> torch.Tensor:
    """Mean absolute value of the residual averaged over 32 x 32 blocks.

    Without it the shading gain and the residual learnt to carry large, opposite coarse
    parts: on a 720p desktop frame the gain flattened a wallpaper gradient as if it were
    vignetting and the residual did not put it back (the frame lost 7.7 dB to the input). The
    shading gain is smooth by construction, so the coarse light belongs to it; the residual
    keeps the detail. Averaging at full resolution, not per pixel-unshuffle phase, lets fine
    moiré (whose phases alternate) through untouched.
    """
    return F.avg_pool2d(residual, RESIDUAL_LOWPASS_BLOCK, ceil_mode=True).abs().mean()


def loss_fn(out: torch.Tensor, target: torch.Tensor, freq_weight: float,
            pixel_loss: str = "mse", edge_weight: float = 0.0,
            sharpness_weight: float = 0.0, residual: torch.Tensor | None = None,
            residual_lowpass_weight: float = 0.0) -> torch.Tensor:
    """Pixel error, plus the coarse image's, the spectrum's and the edges'.

    MSE by default: most pixels of a pair already agree to within noise, and L1's gradient
    (the error's sign) weighs that noise as much as the moiré; MSE weighs the moiré's large
    errors, and is what PSNR measures. On this simulator L1 stalled for thousands of steps.

    But every quadratic loss is minimised by the posterior mean, which is blurred wherever the
    camera's blur leaves an edge uncertain: text came out as soft as the input (gradient energy
    0.6-0.7 of the clean frame's). An L1 on the image gradients is minimised by their median
    instead, which for text's sparse, strong edges is the sharp edge.

    Where an edge's place is uncertain by a pixel, though, a soft edge still has a smaller
    gradient error than a sharp one in the wrong place. ``sharpness_weight`` matches how much
    gradient each 8 x 8 tile holds, wherever in the tile it lies: a sharp edge a pixel off
    costs nothing there, a soft one does.

    ``residual_lowpass_weight`` penalises the coarse part of the network's ``residual`` (see
    :func:`residual_lowpass`).
    """
    error = F.mse_loss if pixel_loss == "mse" else F.l1_loss
    loss = error(out, target) + error(F.avg_pool2d(out, 4), F.avg_pool2d(target, 4))
    if freq_weight:
        spectrum = (torch.fft.rfft2(out, norm="ortho")
                    - torch.fft.rfft2(target, norm="ortho")).abs()
        loss = loss + freq_weight * spectrum.mean()
    if edge_weight:
        loss = loss + edge_weight * (F.l1_loss(out.diff(dim=-1), target.diff(dim=-1))
                                     + F.l1_loss(out.diff(dim=-2), target.diff(dim=-2)))
    if sharpness_weight:
        loss = loss + sharpness_weight * F.l1_loss(local_sharpness(out), local_sharpness(target))
    if residual_lowpass_weight:
        loss = loss + residual_lowpass_weight * residual_lowpass(residual)
    return loss


def grown_from(init: Checkpoint) -> DemoireNet:
    """The current architecture started from ``init``'s weights.

    Heads added since (the shading gain) start at zero, so the network first computes exactly
    what ``init`` did and training only adds to it; the exposure constraint has no weights.
    """
    net = DemoireNet(replace(init.config, shading=True, keep_exposure=True))
    missing, unexpected = net.load_state_dict(
        {k: v.float() for k, v in init.state_dict.items()}, strict=False)
    if unexpected or any(not k.startswith("shading.") for k in missing):
        raise SystemExit(f"--init: weights do not fit: missing {missing}, unexpected {unexpected}")
    return net


def git_revision() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def validation_set(size: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    pairs = []
    for seed in VAL_SEEDS:
        moire, clean, _ = pair_for_seed(seed, size, size)
        pairs.append((torch.from_numpy(moire).permute(2, 0, 1)[None].float() / 255,
                      torch.from_numpy(clean).permute(2, 0, 1)[None].float() / 255))
    return pairs


@torch.inference_mode()
def evaluate(net: DemoireNet, pairs) -> dict:
    """PSNR gain over the input, and text sharpness where a clean crop has text-like edges."""
    net.eval()
    gains, inputs, sharpness = [], [], []
    for x, y in pairs:
        out = net(x).clamp(0, 1)
        inputs.append(psnr(x, y))
        gains.append(psnr(out, y) - inputs[-1])
        sharpness.append(text_sharpness(out[0].permute(1, 2, 0).cpu().numpy(),
                                        y[0].permute(1, 2, 0).cpu().numpy()))
    net.train()
    return {"val_input_psnr": float(np.mean(inputs)), "val_gain_db": float(np.mean(gains)),
            "val_text_sharpness": float(np.nanmean(sharpness))}


def fresh_pairs_at(step: int, per_step: float) -> int:
    """New pairs to render before ``step``: ``per_step`` on average, whole pairs only (0.125
    is one every 8 steps). Derived from the step, so a resumed run keeps the same cadence."""
    return math.floor((step + 1) * per_step) - math.floor(step * per_step)


def lr_at(step: int, total: int, base: float, warmup: int = 300) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--run", type=Path, default=Path("runs/main"), help="run directory")
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--batch", type=int, default=6)
    ap.add_argument("--crop", type=frame_shape, default="256",
                    help="training crop: SIDE or WIDTHxHEIGHT (the render's shape: whole frames)")
    ap.add_argument("--render", type=frame_shape, default="320",
                    help="each rendered pair: SIDE or WIDTHxHEIGHT (1280x720: whole 720p "
                         "frames, vignetting and all, as the benchmark's; docs/model.md)")
    ap.add_argument("--val-side", type=int,
                    help="side of the 24 square validation crops (default: the crop's shorter "
                         "side)")
    ap.add_argument("--pool", type=int, default=192, help="replay pool size")
    ap.add_argument("--downscale", type=float, default=0.0,
                    help="share of batches taken from the pairs shrunk 2-3 times first: smaller "
                         "views from large renders; with whole frames, whole smaller frames "
                         "(see ReplayPool)")
    ap.add_argument("--fresh-per-step", type=float, default=2,
                    help="new pairs added per step; under 1 for large renders (0.125: one pair "
                         "every 8 steps, each feeding more crops; a pair then stays longer in "
                         "the pool, and r34 overfit a 64-pair pool after 600 steps, "
                         "docs/model.md)")
    ap.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 1),
                    help="data worker processes (0: render in the training process)")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--freq-weight", type=float, default=0.0,
                    help="weight of the L1 spectrum term (with MSE, Parseval makes it redundant)")
    ap.add_argument("--pixel-loss", choices=["mse", "l1"], default="mse")
    ap.add_argument("--edge-weight", type=float, default=0.02,
                    help="weight of the L1 on image gradients (sharper text; every run behind "
                         "the shipped checkpoint since its edge loss used 0.02)")
    ap.add_argument("--sharpness-weight", type=float, default=0.0,
                    help="weight of the L1 between the local RMS gradients of output and "
                         "clean (8 x 8 tiles): sharp edges even where their place is uncertain")
    ap.add_argument("--residual-lowpass-weight", type=float, default=0.0,
                    help="weight of the penalty on the residual's 32 x 32 block means: coarse "
                         "light is the shading gain's to correct (see residual_lowpass; 0.05 "
                         "helped 720p frames and cost 640x360 clips, docs/model.md)")
    ap.add_argument("--ema", type=float, default=0.999,
                    help="decay of the weights' moving average that is evaluated and saved "
                         "(0: the raw weights)")
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resume", action="store_true", help="continue from RUN/last.pt")
    ap.add_argument("--init", type=Path, help="start from these weights (e.g. the shipped ones)")
    ap.add_argument("--ship", action="store_true", help="copy the best checkpoint into the package")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    if args.crop[0] > args.render[0] or args.crop[1] > args.render[1]:
        ap.error(f"--crop {args.crop[0]}x{args.crop[1]} does not fit in --render "
                 f"{args.render[0]}x{args.render[1]}")

    random.seed(args.seed)
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    args.run.mkdir(parents=True, exist_ok=True)
    net = DemoireNet(NetConfig(shading=True, keep_exposure=True))
    init = load_checkpoint(args.init) if args.init else None
    if init is not None:
        net = grown_from(init)
    net = net.to(device).train()
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    ema = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(args.ema)) if args.ema else None
    step, best = 0, -1e9
    last = args.run / "last.pt"
    if args.resume and last.exists():
        state = torch.load(last, map_location="cpu", weights_only=False)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        if ema is not None and state.get("ema"):
            ema.load_state_dict(state["ema"])
        step, best = state["step"], state["best"]
        print(f"resumed at step {step} (best val gain {best:.2f} dB)", flush=True)

    data = {"simulator": "streamdemoire.synth camera v1",
            "render": "x".join(map(str, args.render)), "downscale": args.downscale,
            "fresh_per_step": args.fresh_per_step, "crop": "x".join(map(str, args.crop)),
            "batch": args.batch,
            "freq_weight": args.freq_weight, "pixel_loss": args.pixel_loss,
            "edge_weight": args.edge_weight,
            "sharpness_weight": args.sharpness_weight,
            "residual_lowpass_weight": args.residual_lowpass_weight, "ema": args.ema,
            "train_seed_base": TRAIN_SEED_BASE, "seed": args.seed + step}
    if init is not None:  # a fine-tuning's steps count from its start: say what it started from
        data["init"] = {"path": str(args.init), "sha256": file_sha256(args.init),
                        "steps": init.meta.get("steps")}
    workers = {"num_workers": args.workers, "prefetch_factor": 8, "persistent_workers": True,
               "multiprocessing_context": "spawn"} if args.workers else {}
    loader = iter(DataLoader(SimulatedPairs(args.render, args.seed + step), batch_size=None,
                             **workers))
    pool = ReplayPool(args.pool, args.downscale)
    while len(pool.items) < min(args.pool, max(args.batch * 4, 32)):
        pool.add(*next(loader))
    val = validation_set(args.val_side or min(args.crop))
    print(f"pool warm ({len(pool.items)} pairs); training from step {step}", flush=True)

    t0, running = time.time(), 0.0
    while step < args.steps:
        for _ in range(fresh_pairs_at(step, args.fresh_per_step)):
            pool.add(*next(loader))
        for group in opt.param_groups:
            group["lr"] = lr_at(step, args.steps, args.lr)
        x, y = pool.batch(args.batch, args.crop)
        x, y = x.to(device), y.to(device)
        out, residual = net.forward_with_residual(x)
        loss = loss_fn(out, y, args.freq_weight, args.pixel_loss, args.edge_weight,
                       args.sharpness_weight, residual, args.residual_lowpass_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        if ema is not None:
            ema.update_parameters(net)
        step += 1
        running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
        if step % 50 == 0:
            print(f"step {step} loss {running:.4f} {(time.time() - t0) / 50:.2f}s/step", flush=True)
            t0 = time.time()
        if step % args.eval_every == 0 or step == args.steps:
            kept = ema.module if ema is not None else net
            scores = evaluate(kept, [(a.to(device), b.to(device)) for a, b in val])
            meta = {"steps": step, "data": data, "eval": scores, "git": git_revision(),
                    "time": time.strftime("%Y-%m-%dT%H:%M:%S")}
            torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "step": step,
                        "ema": ema.state_dict() if ema is not None else None,
                        "best": max(best, scores["val_gain_db"])}, last)
            # Every evaluated checkpoint is kept: the val gain (PSNR) picks best.pt, but the
            # benchmarks (text sharpness, real photos) may prefer another step.
            save_checkpoint(args.run / f"step{step}.pt", kept, meta)
            if scores["val_gain_db"] > best:
                best = scores["val_gain_db"]
                save_checkpoint(args.run / "best.pt", kept, meta)
                if args.ship:
                    shutil.copyfile(args.run / "best.pt", DEFAULT_CHECKPOINT)
            print(f"eval step {step}: {scores} best {best:.2f}", flush=True)



if __name__ == "__main__":
    main()
