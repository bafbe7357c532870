"""Writes tests/fixtures/torch-lenet.pth and .safetensors: a small LeNet built and initialised by
PyTorch (python/mnist_net.py, seed 0) and saved as PyTorch saves weights, `torch.save(state_dict)`,
and as safetensors. tests/export.rs continues training from both with `--init-from`, so CI needs
no PyTorch. Run from the repository root: python3 python/make_init_fixture.py
"""

import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, "python")
from mnist_net import build  # noqa: E402

# The [model] table of the config in tests/export.rs that trains from these weights.
MODEL = {
    "kind": "lenet",
    "input_size": 28,
    "conv_channels": [4, 8],
    "kernel_size": 5,
    "pool": "max",
    "pool_size": 2,
    "conv_activation": "relu",
    "conv_dropout": [],
    "fc_hidden": [16],
    "activation": "relu",
    "fc_dropout": [],
}

torch.manual_seed(0)
net = build(MODEL)
state = {name: tensor.contiguous() for name, tensor in net.state_dict().items()}
torch.save(state, "tests/fixtures/torch-lenet.pth")
save_file(state, "tests/fixtures/torch-lenet.safetensors")
print("wrote tests/fixtures/torch-lenet.pth and .safetensors:", ", ".join(f"{k} {list(v.shape)}" for k, v in state.items()))
