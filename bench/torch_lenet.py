"""PyTorch side of the CPU comparisons in bench/vs_pytorch.sh. Never run by the tests or CI.

step: the training-step rate of the networks crates/model/examples/train_step_rate.rs measures,
      the same way: batch 64, one fixed random batch, cross-entropy, SGD lr 0.02 momentum 0.9,
      rounds of `steps` steps after a warm-up round; prints images/s per round, then
      "<net> median: N images/s (lo-hi)".

train: configs/lenet.toml done in PyTorch: the Caffe2 LeNet on the real MNIST IDX files, the
      last 5,000 training images held out for validation, normalised with mean 0.1307 and std
      0.3081, batch 64 shuffled every epoch, SGD lr 0.02 momentum 0.9 weight decay 5e-4, the
      learning rate halved after every epoch, 4 epochs, validated after each, then tested on the
      10,000 test images. Prints one line per epoch, then
      "test accuracy A% on 10000 images (W s wall, R train images/s)".

Both use 2 threads (torch.set_num_threads(2)), as the Rust side uses this machine's 2 cores.
train --device cuda runs the same training on an NVIDIA GPU, for a side-by-side with the
trainer's wgpu backend on the same machine; the data are moved to the GPU once, up front.

usage: torch_lenet.py step [--net caffe2|lenet5|cnn-dropout|mlp] [--rounds 5] [--steps 20]
       torch_lenet.py train --data-dir DIR [--epochs 4] [--device cpu|cuda]
"""

import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 64


class Lenet(nn.Module):
    """conv -> [relu] -> max-pool 2, twice, then fc layers with relu (and dropout) between."""

    def __init__(self, convs, fcs, conv_relu, conv_dropout=(), fc_dropout=()):
        super().__init__()
        chans = [1] + list(convs)
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 5) for a, b in zip(chans, chans[1:]))
        self.fcs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(fcs, fcs[1:]))
        self.conv_relu = conv_relu
        self.conv_dropout = list(conv_dropout) or [0.0] * len(convs)
        self.fc_dropout = list(fc_dropout) or [0.0] * (len(fcs) - 2)

    def forward(self, x):
        for conv, p in zip(self.convs, self.conv_dropout):
            x = conv(x)
            if self.conv_relu:
                x = F.relu(x)
            x = F.max_pool2d(x, 2)
            if p > 0:
                x = F.dropout(x, p, self.training)
        x = x.flatten(1)
        for i, fc in enumerate(self.fcs):
            x = fc(x)
            if i + 1 < len(self.fcs):
                x = F.relu(x)
                if self.fc_dropout[i] > 0:
                    x = F.dropout(x, self.fc_dropout[i], self.training)
        return x


class Mlp(nn.Module):
    def __init__(self, widths):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))

    def forward(self, x):
        x = x.flatten(1)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i + 1 < len(self.layers):
                x = F.relu(x)
        return x


# The presets of crates/model (same layers, same input side).
NETS = {
    "caffe2": (lambda: Lenet([20, 50], [800, 500, 10], conv_relu=False), 28),
    "lenet5": (lambda: Lenet([6, 16], [400, 120, 84, 10], conv_relu=True), 32),
    "cnn-dropout": (
        lambda: Lenet([32, 64], [1024, 512, 256, 10], True, [0.25, 0.0], [0.5, 0.0]),
        28,
    ),
    "mlp": (lambda: Mlp([784, 128, 64, 10]), 28),
}


def step_rate(net, rounds, steps):
    make, side = NETS[net]
    torch.manual_seed(0)
    model = make()
    x = torch.randn(BATCH, 1, side, side)
    y = torch.arange(BATCH) % 10
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    rates = []
    for r in range(rounds + 1):
        t = time.perf_counter()
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()
        rate = steps * BATCH / (time.perf_counter() - t)
        if r > 0:  # round 0 warms up
            rates.append(rate)
            print(f"  torch {rate:>7.0f} images/s (round {r})", flush=True)
    rates.sort()
    print(f"{net} median: {rates[len(rates) // 2]:.0f} images/s "
          f"({rates[0]:.0f}-{rates[-1]:.0f})", flush=True)


def read_idx(path, magic, dims):
    """An MNIST IDX file as a numpy array, checking the magic number and the sizes."""
    with open(path, "rb") as f:
        data = f.read()
    if int.from_bytes(data[0:4], "big") != magic:
        sys.exit(f"{path}: not an IDX file with magic {magic:#x}")
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
    if body.size != int(np.prod(shape)):
        sys.exit(f"{path}: expected {int(np.prod(shape))} values, found {body.size}")
    return body.reshape(shape)


def load(data_dir, prefix):
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte"), 0x803, 3)
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte"), 0x801, 1)
    x = (torch.from_numpy(images.astype(np.float32)) / 255.0 - 0.1307) / 0.3081
    return x.unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def evaluate(model, x, y):
    model.eval()
    loss, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            out = model(x[i:i + 1000])
            loss += F.cross_entropy(out, y[i:i + 1000], reduction="sum").item()
            correct += (out.argmax(1) == y[i:i + 1000]).sum().item()
    model.train()
    return loss / len(x), correct / len(x)


def train(data_dir, epochs, device, batch=None, limit=None):
    batch = batch or BATCH
    start = time.perf_counter()
    torch.manual_seed(42)
    x, y = (t.to(device) for t in load(data_dir, "train"))
    x_test, y_test = (t.to(device) for t in load(data_dir, "t10k"))
    valid = 5000
    # As the trainer's `[data] limit`: the first N images of the training part.
    x_train, y_train = x[:-valid][:limit], y[:-valid][:limit]
    x_valid, y_valid = x[-valid:], y[-valid:]
    model = NETS["caffe2"][0]().to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    train_seconds, seen = 0.0, 0
    for epoch in range(1, epochs + 1):
        t = time.perf_counter()
        order = torch.randperm(len(x_train), device=device)
        lr = opt.param_groups[0]["lr"]
        # Summed on the device and read once per epoch: a `.item()` per step would make every
        # step wait for the GPU, which no fast PyTorch loop does.
        total = torch.zeros((), device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        for i in range(0, len(order), batch):
            idx = order[i:i + batch]
            xb, yb = x_train[idx], y_train[idx]
            opt.zero_grad(set_to_none=True)
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            loss.backward()
            opt.step()
            total += loss.detach() * len(idx)
            correct += (out.argmax(1) == yb).sum()
        total, correct = total.item(), correct.item()
        train_seconds += time.perf_counter() - t
        seen += len(order)
        sched.step()
        v_loss, v_acc = evaluate(model, x_valid, y_valid)
        print(f"epoch {epoch}/{epochs}  train loss {total / len(order):.4f} "
              f"acc {100 * correct / len(order):.2f}%  valid loss {v_loss:.4f} "
              f"acc {100 * v_acc:.2f}%  lr {lr:.3e}", flush=True)
    _, test_acc = evaluate(model, x_test, y_test)
    wall = time.perf_counter() - start
    print(f"test accuracy {100 * test_acc:.2f}% on {len(x_test)} images "
          f"({wall:.1f} s wall, {seen / train_seconds:.0f} train images/s)", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    step = sub.add_parser("step", help="training-step rate on a random batch")
    step.add_argument("--net", choices=sorted(NETS), default="caffe2")
    step.add_argument("--rounds", type=int, default=5)
    step.add_argument("--steps", type=int, default=20)
    full = sub.add_parser("train", help="configs/lenet.toml in PyTorch on the real MNIST")
    full.add_argument("--data-dir", required=True,
                      help="directory with the four raw MNIST IDX files")
    full.add_argument("--epochs", type=int, default=4)
    full.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    full.add_argument("--batch-size", type=int, default=BATCH)
    full.add_argument("--limit", type=int, default=None,
                      help="train on the first N training images only")
    args = parser.parse_args()

    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
    if args.mode == "step":
        step_rate(args.net, args.rounds, args.steps)
    else:
        if args.device == "cuda" and not torch.cuda.is_available():
            sys.exit("error: --device cuda, but this PyTorch sees no CUDA GPU")
        train(args.data_dir, args.epochs, torch.device(args.device), args.batch_size, args.limit)


if __name__ == "__main__":
    main()
