"""Train the bundled digits CNN on scikit-learn's handwritten digits: `python -m featviz_core.train_digits`.

scikit-learn ships its `load_digits` set (1,797 real handwritten digits, 8×8, from the UCI optical
recognition data) inside the package, so training needs no download. scikit-learn is a dev-only need.
The images are upscaled and then put through the model's own preprocessing (:func:`digit_canvas`), a
stratified 20 % is held out, and everything random is seeded, so a rerun reproduces the accuracy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.transforms import v2

from .digits import META_FILE, WEIGHTS_FILE, DigitsCNN, digit_canvas

OUT = Path(__file__).resolve().parent / "weights"
SAMPLES = Path(__file__).resolve().parent / "samples" / "digits"
SEED = 0
TEST_FRACTION = 0.2
EPOCHS = 40
BATCH = 64
LEARNING_RATE = 2e-3
MIN_HELD_OUT_ACCURACY = 0.97


def load_data() -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28) canvases in 0–1 and labels, from scikit-learn's bundled digits."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    canvases = []
    for image in digits.images:  # 8×8, 0–16, light ink on dark
        small = Image.fromarray((image / 16.0 * 255).astype(np.uint8), mode="L")
        big = small.resize((32, 32), Image.Resampling.BICUBIC)
        canvases.append(digit_canvas(big))
    return np.stack(canvases).astype(np.float32), digits.target.astype(np.int64)


def split(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(labels))
    train, test = train_test_split(indices, test_size=TEST_FRACTION, stratify=labels, random_state=SEED)
    return np.sort(train), np.sort(test)


def write_samples(labels: np.ndarray, test_idx: np.ndarray, folder: Path) -> list[str]:
    """The first held-out digit of each class, as dark ink on light paper (how people draw them), 112×112."""
    from sklearn.datasets import load_digits

    images = load_digits().images
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for digit in range(10):
        index = int(next(i for i in test_idx if labels[i] == digit))
        ink = Image.fromarray((images[index] / 16.0 * 255).astype(np.uint8), mode="L")
        paper = Image.eval(ink.resize((112, 112), Image.Resampling.BICUBIC), lambda v: 255 - v)
        paper.save(folder / f"digit_{digit}.png", optimize=True)
        written.append(f"digit_{digit}.png (load_digits index {index})")
    return written


def vary_strokes(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Thicken a third of the digits and thin another third: people's pens differ, 8×8 scans do not."""
    choice = torch.randint(0, 3, (len(batch),), generator=generator)
    thick = F.max_pool2d(batch, 3, 1, 1)
    thin = -F.max_pool2d(-batch, 3, 1, 1)
    pick = choice.view(-1, 1, 1, 1)
    return torch.where(pick == 1, thick, torch.where(pick == 2, thin, batch))


def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.inference_mode():
        return float((model(x).argmax(dim=1) == y).float().mean())


def train(epochs: int = EPOCHS) -> dict:
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.use_deterministic_algorithms(True)
    canvases, labels = load_data()
    train_idx, test_idx = split(labels)
    mean, std = float(canvases[train_idx].mean()), float(canvases[train_idx].std())
    x = torch.from_numpy((canvases - mean) / std).unsqueeze(1)
    y = torch.from_numpy(labels)
    x_train, y_train, x_test, y_test = x[train_idx], y[train_idx], x[test_idx], y[test_idx]
    augment = v2.RandomAffine(degrees=12, translate=(0.08, 0.08), scale=(0.85, 1.1), fill=-mean / std)
    model = DigitsCNN()
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=epochs)
    generator = torch.Generator().manual_seed(SEED)
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        for batch in order.split(BATCH):
            inputs = vary_strokes(torch.stack([augment(image) for image in x_train[batch]]), generator)
            loss = F.cross_entropy(model(inputs), y_train[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        schedule.step()
        if epoch % 10 == 9 or epoch == epochs - 1:
            print(f"epoch {epoch + 1:3d}  loss {loss.item():.4f}  held-out {accuracy(model, x_test, y_test):.4f}")
    return {
        "model": model,
        "mean": mean,
        "std": std,
        "train_accuracy": accuracy(model, x_train, y_train),
        "test_accuracy": accuracy(model, x_test, y_test),
        "train_size": len(train_idx),
        "test_size": len(test_idx),
        "test_indices": test_idx.tolist(),
        "seconds": time.perf_counter() - start,
        "epochs": epochs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder for the weights and metadata")
    parser.add_argument("--samples", type=Path, default=SAMPLES, help="folder for the held-out sample PNGs")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args(argv)
    result = train(args.epochs)
    print(f"train accuracy {result['train_accuracy']:.4f}  held-out accuracy {result['test_accuracy']:.4f}  "
          f"({result['seconds']:.0f} s)")
    if result["test_accuracy"] < MIN_HELD_OUT_ACCURACY:
        print(f"held-out accuracy is below {MIN_HELD_OUT_ACCURACY:.0%}: weights not written", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    torch.save(result["model"].state_dict(), args.out / WEIGHTS_FILE)
    meta = {
        "model": "digits_cnn",
        "architecture": "Conv2d(1,32,3) ReLU MaxPool2d(2) Conv2d(32,64,3) ReLU MaxPool2d(2) Flatten "
        "Linear(1600,64) ReLU Linear(64,10)",
        "dataset": "scikit-learn load_digits (1,797 handwritten digits, 8x8, UCI optical recognition of "
        "handwritten digits)",
        "preprocessing": "8x8 upscaled to 32x32 (bicubic), then featviz_core.digits.digit_canvas: ink cropped, "
        "fitted to 20x20, centred in 28x28",
        "split": f"stratified, {TEST_FRACTION:.0%} held out (sklearn train_test_split, random_state={SEED})",
        "train_size": result["train_size"],
        "test_size": result["test_size"],
        "seed": SEED,
        "epochs": result["epochs"],
        "augmentation": "RandomAffine(degrees=12, translate=0.08, scale=0.85-1.1); strokes thickened or thinned "
        "(3x3 max-pool dilation/erosion) for 2 of 3 digits",
        "train_accuracy": round(result["train_accuracy"], 4),
        "test_accuracy": round(result["test_accuracy"], 4),
        "mean": result["mean"],
        "std": result["std"],
        "torch": torch.__version__,
        "date": dt.date.today().isoformat(),
        "command": "pip install -r requirements-dev.txt && python -m featviz_core.train_digits",
        "test_indices": result["test_indices"],
    }
    meta["samples"] = write_samples(np.asarray(load_data()[1]), np.asarray(result["test_indices"]), args.samples)
    (args.out / META_FILE).write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {args.out / WEIGHTS_FILE} and {args.out / META_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
