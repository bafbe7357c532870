"""The networks of this project as ordinary PyTorch modules, built from the [model] table that
`trainer export` writes beside its files (FILE.toml; the same table as a run's model.toml).

    import torch, tomllib
    from safetensors.torch import load_file
    from mnist_net import build
    contract = tomllib.load(open("lenet.safetensors.toml", "rb"))
    net = build(contract["model"])
    net.load_state_dict(load_file("lenet.safetensors"), strict=True)
    net.eval()  # dropout off; the input is prepared as contract["input"] says

Parameter names and layouts are those of `trainer export --format safetensors`: `convs.N.*` and
`fcs.N.*` for the LeNet family, `layers.N.*` for the MLP. The input is images already resized
and normalised (contract["input"]); the ONNX export has both inside its graph instead.
"""

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "none": nn.Identity}


class Lenet(nn.Module):
    """Convolutions (valid padding, stride 1), each with its activation, a pool and dropout;
    then flatten and fully connected layers, the last giving the ten logits."""

    def __init__(self, m):
        super().__init__()
        channels = [1] + list(m["conv_channels"])
        k = m["kernel_size"]
        self.convs = nn.ModuleList(nn.Conv2d(a, b, k) for a, b in zip(channels, channels[1:]))
        pool = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}[m["pool"]]
        self.pool = pool(m["pool_size"])
        self.conv_activation = ACTIVATIONS[m["conv_activation"]]()
        self.conv_dropouts = nn.ModuleList(nn.Dropout(p) for p in padded(m["conv_dropout"], len(self.convs)))
        side = m["input_size"]
        for _ in self.convs:
            side = (side - k + 1) // m["pool_size"]
        widths = [channels[-1] * side * side] + list(m["fc_hidden"]) + [10]
        self.fcs = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.activation = ACTIVATIONS[m["activation"]]()
        self.fc_dropouts = nn.ModuleList(nn.Dropout(p) for p in padded(m["fc_dropout"], len(self.fcs) - 1))

    def forward(self, x):
        for conv, dropout in zip(self.convs, self.conv_dropouts):
            x = dropout(self.pool(self.conv_activation(conv(x))))
        x = x.flatten(1)
        for i, fc in enumerate(self.fcs):
            x = fc(x)
            if i < len(self.fcs) - 1:
                x = self.fc_dropouts[i](self.activation(x))
        return x


class Mlp(nn.Module):
    """Flatten, then Linear -> activation -> dropout per hidden layer, and a last Linear (with
    `output_activation`) to the ten logits."""

    def __init__(self, m):
        super().__init__()
        widths = [m["input_size"] ** 2] + list(m["hidden"]) + [10]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths, widths[1:]))
        self.activation = ACTIVATIONS[m["activation"]]()
        self.dropout = nn.Dropout(m["dropout"])
        self.output_activation = ACTIVATIONS[m["output_activation"]]()

    def forward(self, x):
        x = x.flatten(1)
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = self.dropout(self.activation(x))
        return self.output_activation(x)


def padded(probabilities, n):
    """A dropout probability per layer: the list as given, 0 for layers it does not reach."""
    probabilities = list(probabilities)
    return probabilities[:n] + [0.0] * (n - len(probabilities))


def build(model):
    """The network a [model] table describes."""
    return {"lenet": Lenet, "mlp": Mlp}[model["kind"]](model)
