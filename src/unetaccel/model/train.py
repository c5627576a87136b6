"""Training loop shared by float training and quantization-aware fine-tuning.

Seedable and deterministic on CPU, a progress bar with running loss and
accuracy, checkpoints that rebuild the model from the file alone, a metrics
JSON, a loss-curve plot and a prediction-overlay plot.
"""
from __future__ import annotations

import json
import logging
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..errors import UnetaccelError
from ..palette import palette
from ..threads import apply_torch_threads

from .metrics import IGNORE_INDEX, SegLoss, check_class_weights, confusion, metrics_from_confusion
from .unet import UNet, UNetConfig

log = logging.getLogger("unetaccel.train")

CHECKPOINT_FORMAT = "unetaccel-float-checkpoint"


@dataclass
class TrainConfig:
    dataset: str = "synthetic"
    data_root: str | None = None
    widths: tuple[int, ...] = (8, 16, 32, 64, 128)
    classes: int | None = None  # None: the dataset's own count
    size: tuple[int, int] = (64, 64)
    epochs: int = 20
    batch_size: int = 16
    lr: float = 1e-2  # Adam with one-cycle; 3e-3 learned the synthetic set half as fast
    beta: float = 0.5
    class_weights: list[float] | None = None
    seed: int = 0
    train_length: int | None = None  # synthetic only: items per epoch
    val_length: int | None = None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2 ** 32))
    torch.manual_seed(seed)


def to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 N x C x H x W -> the float model input: pixel / 256 (no normalisation)."""
    return images.to(torch.float32) / 256.0


def collate(batch):
    imgs = torch.from_numpy(np.stack([b[0] for b in batch]))
    masks = torch.from_numpy(np.stack([b[1] for b in batch]).astype(np.int64))
    return imgs, masks


def make_loader(ds, batch_size, shuffle, seed):
    g = torch.Generator()
    g.manual_seed(seed)
    return DataLoader(ds, batch_size=batch_size, shuffle=shuffle, collate_fn=collate, generator=g,
                      num_workers=0, drop_last=False)


@torch.no_grad()
def evaluate(model, loader, num_classes, class_names=None, progress=False, desc="val") -> dict:
    model.eval()
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    loss_sum, n = 0.0, 0
    ce = torch.nn.CrossEntropyLoss(ignore_index=IGNORE_INDEX, reduction="sum")
    valid_pixels = 0
    for imgs, masks in tqdm(loader, desc=desc, leave=False, disable=not progress):
        logits = model(to_input(imgs))
        logits = logits.value if hasattr(logits, "value") else logits
        loss_sum += float(ce(logits.float(), masks))
        valid_pixels += int((masks != IGNORE_INDEX).sum())
        cm += confusion(logits.argmax(1).numpy(), masks.numpy(), num_classes)
        n += len(imgs)
    m = metrics_from_confusion(cm, class_names)
    m["loss_ce"] = loss_sum / max(valid_pixels, 1)
    m["images"] = n
    return m


@dataclass
class History:
    epoch: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_miou: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    step_loss: list = field(default_factory=list)


def fit(model, train_ds, val_ds, num_classes, *, epochs, lr, batch_size=16, beta=0.5, class_weights=None,
        seed=0, class_names=None, progress=True, desc="train", on_epoch_end=None) -> History:
    """Adam on beta*CE + (1-beta)*Dice; evaluates on val_ds after every epoch."""
    seed_everything(seed)
    loss_fn = SegLoss(beta, class_weights)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr)
    steps = max(1, epochs * ((len(train_ds) + batch_size - 1) // batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    hist = History()
    val_loader = make_loader(val_ds, batch_size, False, seed)
    for ep in range(epochs):
        if hasattr(train_ds, "set_epoch"):
            train_ds.set_epoch(ep)
        model.train()
        loader = make_loader(train_ds, batch_size, True, seed + ep)
        run_loss, run_acc, k = 0.0, 0.0, 0
        bar = tqdm(loader, desc=f"{desc} {ep + 1}/{epochs}", disable=None if progress else True, leave=False)
        for imgs, masks in bar:
            logits = model(to_input(imgs))
            logits = logits.value if hasattr(logits, "value") else logits
            loss = loss_fn(logits, masks)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            with torch.no_grad():
                valid = masks != IGNORE_INDEX
                acc = float((logits.argmax(1) == masks)[valid].float().mean()) if valid.any() else 0.0
            k += 1
            run_loss += (loss.item() - run_loss) / k
            run_acc += (acc - run_acc) / k
            hist.step_loss.append(loss.item())
            bar.set_postfix(loss=f"{run_loss:.3f}", acc=f"{run_acc:.3f}")
        val = evaluate(model, val_loader, num_classes, class_names)
        hist.epoch.append(ep + 1)
        hist.train_loss.append(run_loss)
        hist.val_loss.append(val["loss_ce"])
        hist.val_miou.append(val["mean_iou"])
        hist.val_acc.append(val["pixel_accuracy"])
        log.info("%s epoch %d/%d: loss %.4f  val acc %.4f  val mIoU %.4f", desc, ep + 1, epochs, run_loss,
                 val["pixel_accuracy"], val["mean_iou"])
        if on_epoch_end:
            on_epoch_end(ep, val)
    return hist


# ---------------------------------------------------------------------------
# checkpoints


def save_checkpoint(path, model: UNet, extra: dict | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": CHECKPOINT_FORMAT, "config": model.config.to_dict(),
                "state_dict": model.state_dict(), **(extra or {})}, path)
    return path


class CheckpointError(UnetaccelError, ValueError):
    """A checkpoint that is missing, unreadable or not a unetaccel float checkpoint."""


def load_checkpoint(path) -> tuple[UNet, dict]:
    """Rebuild the float UNet from the checkpoint file alone."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint (train one with `unetaccel train --out RUN`)")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise CheckpointError(f"{path}: not a readable checkpoint ({e})") from None
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT or "config" not in ck:
        raise CheckpointError(f"{path}: not a unetaccel float checkpoint (no model config inside)")
    try:
        model = UNet.from_config(UNetConfig.from_dict(ck["config"]))
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: the model config inside is not valid ({e})") from None
    try:
        missing, unexpected = model.load_state_dict(ck["state_dict"], strict=False)
    except RuntimeError as e:  # shape mismatches
        first = str(e).split("\n\t")[1] if "\n\t" in str(e) else str(e)
        raise CheckpointError(f"{path}: weights do not fit the architecture in its config ({first})") from None
    if missing or unexpected:
        raise CheckpointError(f"{path}: weights do not fit the architecture in its config "
                              f"(missing {missing[:3]}, unexpected {unexpected[:3]})")
    return model, ck


# ---------------------------------------------------------------------------
# plots


def plot_history(hist: History, path, title="training") -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    if hist.step_loss:
        a.plot(np.arange(1, len(hist.step_loss) + 1), hist.step_loss, lw=0.6, alpha=0.5, label="train (step)")
    steps_per_epoch = len(hist.step_loss) / max(len(hist.epoch), 1)
    a.plot(np.array(hist.epoch) * steps_per_epoch, hist.train_loss, "o-", label="train (epoch mean)")
    a.set_xlabel("step")
    a.set_ylabel("loss (beta CE + (1-beta) Dice)")
    a.legend()
    a.set_title(f"{title}: loss")
    b.plot(hist.epoch, hist.val_miou, "o-", label="val mIoU")
    b.plot(hist.epoch, hist.val_acc, "s-", label="val pixel acc")
    b.set_xlabel("epoch")
    b.set_ylim(0, 1)
    b.legend()
    b.set_title(f"{title}: validation")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def colorize(mask: np.ndarray, k: int) -> np.ndarray:
    p = palette(k)
    out = np.zeros((*mask.shape, 3), dtype=np.uint8)
    valid = mask != IGNORE_INDEX
    out[valid] = p[np.clip(mask[valid], 0, k - 1)]
    out[~valid] = (255, 255, 255)
    return out


def legend_entries(maps, num_classes: int, class_names=None) -> list[tuple[str, tuple[int, int, int]]]:
    """(name, RGB) of each class that occurs in the class maps, in class order, as colorize()
    paints it; ignored pixels (IGNORE_INDEX) last, white."""
    shown = np.unique(np.concatenate([np.asarray(m).ravel() for m in maps]))
    names = list(class_names) if class_names is not None else [str(c) for c in range(num_classes)]
    p = palette(num_classes)
    out = [(names[c], tuple(int(v) for v in p[c])) for c in shown if 0 <= c < num_classes]
    return out + ([("ignored", (255, 255, 255))] if IGNORE_INDEX in shown else [])


def plot_overlays(images: np.ndarray, truth: np.ndarray, preds: dict, num_classes: int, path,
                  max_rows: int = 4, class_names=None) -> Path:
    """Rows of image | truth | prediction(s), and a colour legend of the classes shown (white:
    ignored pixels). images uint8 N x C x H x W."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    n = min(max_rows, len(images))
    cols = 2 + len(preds)
    fig, axes = plt.subplots(n, cols, figsize=(2.4 * cols, 2.4 * n), squeeze=False)
    for i in range(n):
        img = images[i].transpose(1, 2, 0)
        if img.shape[2] == 1:
            img = img[..., 0]
        panels = [("image", img), ("truth", colorize(truth[i], num_classes))]
        panels += [(name, colorize(p[i], num_classes)) for name, p in preds.items()]
        for j, (name, im) in enumerate(panels):
            ax = axes[i, j]
            ax.imshow(im, cmap="gray" if im.ndim == 2 else None, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name)
    entries = legend_entries([truth[:n], *(p[:n] for p in preds.values())], num_classes, class_names)
    handles = [Patch(facecolor=np.asarray(rgb) / 255.0, edgecolor="black", linewidth=0.3, label=name)
               for name, rgb in entries]
    fig.tight_layout()
    # below the panels, as many columns as the figure's width holds (about 1.9 inches a class name);
    # the tight bounding box grows the picture to take it
    ncol = max(1, min(len(handles), int(2.4 * cols / 1.9)))
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=ncol, fontsize=7, frameon=False)
    path = Path(path)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


# ---------------------------------------------------------------------------
# the `unetaccel train` job


def build_datasets(cfg: TrainConfig):
    from .datasets import FIXED_CLASSES, DatasetError, dataset_info, get_dataset

    if cfg.classes is not None and cfg.classes < 2:
        raise DatasetError(f"--classes {cfg.classes}: a segmentation needs at least 2 classes")
    info = dataset_info(cfg.dataset, root=cfg.data_root, num_classes=cfg.classes)
    if cfg.classes is not None and cfg.dataset in FIXED_CLASSES and cfg.classes != info["num_classes"]:
        raise DatasetError(f"--classes {cfg.classes} disagrees with the {cfg.dataset} dataset at {cfg.data_root}, "
                           f"whose labels define {info['num_classes']} classes (leave --classes out, or pass "
                           f"{info['num_classes']})")
    k = cfg.classes or info["num_classes"]
    kw = {}
    if cfg.dataset == "synthetic":
        kw["num_classes"] = k
    elif cfg.dataset == "folder":
        kw["num_classes"] = k
    train_ds = get_dataset(cfg.dataset, root=cfg.data_root, split="train", size=tuple(cfg.size), augment=True,
                           seed=cfg.seed, length=cfg.train_length, **kw)
    val_ds = get_dataset(cfg.dataset, root=cfg.data_root, split="val", size=tuple(cfg.size), augment=False,
                         seed=cfg.seed, length=cfg.val_length, **kw)
    names = info.get("class_names") or [str(i) for i in range(k)]
    if len(names) != k:
        names = [str(i) for i in range(k)]
    return train_ds, val_ds, k, names


def predict(model, images_u8: np.ndarray) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        out = model(to_input(torch.from_numpy(images_u8)))
        out = out.value if hasattr(out, "value") else out
        return out.argmax(1).numpy()


def sample_batch(ds, n: int):
    items = [ds[i] for i in range(min(n, len(ds)))]
    return np.stack([i[0] for i in items]), np.stack([i[1] for i in items]).astype(np.int64)


def train(cfg: TrainConfig, out, progress=True) -> dict:
    """Train the float UNet; writes OUT/float.pt, OUT/metrics.json, OUT/loss.png, OUT/predictions.png."""
    apply_torch_threads()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.seed)
    train_ds, val_ds, k, names = build_datasets(cfg)
    if cfg.class_weights is not None:
        cfg.class_weights = check_class_weights(cfg.class_weights, k)  # before any training time is spent
    in_ch = int(train_ds[0][0].shape[0])
    model = UNet(in_ch, k, tuple(cfg.widths), tuple(cfg.size))
    t0 = time.time()
    hist = fit(model, train_ds, val_ds, k, epochs=cfg.epochs, lr=cfg.lr, batch_size=cfg.batch_size,
               beta=cfg.beta, class_weights=cfg.class_weights, seed=cfg.seed, class_names=names,
               progress=progress, desc="train")
    seconds = time.time() - t0
    val = evaluate(model, make_loader(val_ds, cfg.batch_size, False, cfg.seed), k, names)
    train_cfg = asdict(cfg)
    save_checkpoint(out / "float.pt", model, {"train_config": train_cfg, "class_names": names,
                                              "val_metrics": {"pixel_accuracy": val["pixel_accuracy"],
                                                              "mean_iou": val["mean_iou"]}})
    metrics = {"model": model.config.to_dict(), "train_config": train_cfg, "seconds": seconds,
               "history": asdict(hist) | {"step_loss": hist.step_loss}, "val": val, "class_names": names}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    plot_history(hist, out / "loss.png", "float")
    imgs, masks = sample_batch(val_ds, 4)
    plot_overlays(imgs, masks, {"float": predict(model, imgs)}, k, out / "predictions.png", class_names=names)
    return metrics
