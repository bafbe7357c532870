"""Checks a file written by `trainer export` against this program's own predictions: runs the
first N test images through it (onnxruntime for .onnx; PyTorch and python/mnist_net.py for
.safetensors) and compares the class probabilities with `trainer eval --probabilities CSV`.

    python3 python/check_export.py FILE --images DIR/t10k-images-idx3-ubyte --probabilities CSV [--limit 1000]

Prints the number of images, the largest absolute difference of a probability and how many
predicted classes differ; exits 1 when a prediction differs or a difference exceeds --tolerance.
Needs numpy, and onnxruntime or torch + safetensors for the format checked.
"""

import argparse
import csv
import gzip
import sys
import tomllib

import numpy as np


def read_idx_images(path, limit):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, count, rows, cols = np.frombuffer(data[:16], dtype=">u4")
    if magic != 2051:
        sys.exit(f"error: {path}: not an IDX image file (magic {magic})")
    n = min(count, limit)
    pixels = np.frombuffer(data[16 : 16 + n * rows * cols], dtype=np.uint8)
    return pixels.reshape(n, 1, rows, cols).astype(np.float32)


def read_probabilities(path, limit):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))[:limit]
    return np.array([[float(row[f"p{c}"]) for c in range(10)] for row in rows], dtype=np.float64)


def softmax(logits):
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def run_onnx(path, images):
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return session.run(None, {name: images})[0]


def prepare(images, data):
    """Resize and normalise raw pixels as the contract's [data] table says (the batcher's maths)."""
    import torch

    x = torch.from_numpy(images)
    resize = data.get("resize", "none")
    if resize == "pad32":
        x = torch.nn.functional.pad(x, (2, 2, 2, 2))
    elif resize == "bilinear32":
        x = torch.nn.functional.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    norm = data.get("normalize", {"mean": 0.1307, "std": 0.3081})
    if norm == "unit":
        return x / 255
    if "divide_by" in norm:
        return x / norm["divide_by"]
    return (x / 255 - norm["mean"]) / norm["std"]


def run_torch(path, contract, images):
    import torch
    from safetensors.torch import load_file

    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from mnist_net import build

    net = build(contract["model"])
    net.load_state_dict(load_file(path), strict=True)
    net.eval()
    with torch.no_grad():
        return net(prepare(images, contract["data"])).double().numpy()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file")
    parser.add_argument("--images", required=True)
    parser.add_argument("--probabilities", required=True)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--tolerance", type=float, default=1e-4)
    args = parser.parse_args()

    with open(args.file + ".toml", "rb") as f:
        contract = tomllib.load(f)
    images = read_idx_images(args.images, args.limit)
    ours = read_probabilities(args.probabilities, args.limit)
    if len(ours) != len(images):
        sys.exit(f"error: {args.probabilities} has {len(ours)} rows for {len(images)} images")
    if contract["format"] == "onnx":
        logits = run_onnx(args.file, images)
    else:
        logits = run_torch(args.file, contract, images)
    theirs = softmax(np.asarray(logits, dtype=np.float64))
    diff = float(np.abs(theirs - ours).max())
    disagree = int((theirs.argmax(axis=1) != ours.argmax(axis=1)).sum())
    print(f"{args.file}: {len(images)} images, max |probability difference| {diff:.2e}, {disagree} predictions differ")
    sys.exit(1 if disagree or diff > args.tolerance else 0)


if __name__ == "__main__":
    main()
