"""Multiply-accumulates of any model, counted by a shape-tracing forward pass."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["Counted", "count_macs", "count_params_bn_folded", "count_weights"]


def count_macs(model: nn.Module, input_size: int) -> int:
    """MACs per image of every Conv2d and Linear of ``model`` for one 3-channel square input."""
    total, hooks = [0], []

    def count(mod, _inputs, out):
        total[0] += mod.weight[0].numel() * out.numel() // out.shape[0]
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            hooks.append(m.register_forward_hook(count))
    was = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 3, input_size, input_size))
    finally:
        model.train(was)
        for h in hooks:
            h.remove()
    return total[0]


def count_weights(model: nn.Module) -> int:
    """Weights of every Conv2d and Linear of ``model``."""
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


def count_params_bn_folded(model: nn.Module) -> int:
    """Weights + biases with each BatchNorm folded into one bias per channel (the deployable form)."""
    biases = sum(m.bias.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)) and m.bias is not None)
    bns = sum(m.num_features for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)))
    return count_weights(model) + biases + bns


class Counted(nn.Module):
    """The counts ``hwsqueeze models`` shows, for a model with ``arch.input_size``."""

    def paper_param_count(self) -> int:
        """Weights + biases, each BatchNorm folded into one bias per channel."""
        return count_params_bn_folded(self)

    def weight_count(self) -> int:
        return count_weights(self)

    def macs(self) -> int:
        """Multiply-accumulates per image (convolutions and fully connected layers)."""
        return count_macs(self, self.arch.input_size)
