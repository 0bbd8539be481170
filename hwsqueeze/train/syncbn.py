"""``--sync-bn``: BatchNorm statistics over the global batch of all processes.

On GPUs this is torch's ``nn.SyncBatchNorm``. torch's version refuses CPU tensors, so on CPU
(gloo) :class:`AllReduceBatchNorm2d` does the same with a differentiable all-reduce of each
channel's count, sum and sum of squares: the normalisation, its gradient and the running
statistics are those of one BatchNorm over the whole global batch (up to float rounding).
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["AllReduceBatchNorm2d", "convert_sync_bn"]


class AllReduceBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics are summed over the default process group."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dist = torch.distributed
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        xf = x.float()  # statistics in fp32 also under bf16 autocast
        c = x.shape[1]
        count = torch.full((1,), float(x.numel() // c), dtype=torch.float32, device=x.device)
        stats = all_reduce(torch.cat([count, xf.sum((0, 2, 3)), (xf * xf).sum((0, 2, 3))]))
        n = stats[0]
        mean = stats[1:1 + c] / n
        var = (stats[1 + c:] / n - mean * mean).clamp_min(0.0)
        with torch.no_grad():
            self.num_batches_tracked += 1
            m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
            self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
            self.running_var.mul_(1 - m).add_(var.detach() * (n / (n - 1)), alpha=m)
        scale = torch.rsqrt(var + self.eps)
        w = self.weight if self.affine else torch.ones_like(mean)
        b = self.bias if self.affine else torch.zeros_like(mean)
        y = (xf - mean[None, :, None, None]) * (scale * w)[None, :, None, None] + b[None, :, None, None]
        return y.to(x.dtype)


def convert_sync_bn(model: nn.Module, device: torch.device) -> nn.Module:
    """``model`` with every BatchNorm2d synchronised across processes (same parameters/buffers,
    same state_dict names)."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for name, child in model.named_children():
        if type(child) is nn.BatchNorm2d:
            new = AllReduceBatchNorm2d(child.num_features, child.eps, child.momentum, child.affine,
                                       child.track_running_stats)
            new.load_state_dict(child.state_dict())
            if child.affine:
                new.weight, new.bias = child.weight, child.bias
            new.train(child.training)
            setattr(model, name, new)
        else:
            convert_sync_bn(child, device)
    return model
