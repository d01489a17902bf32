"""Zero-cost proxies: score an untrained network from one minibatch, without training it.

Following the reference implementation of Abdelfattah et al., "Zero-Cost Proxies for Lightweight
NAS" (ICLR 2021), gradient-based scores (synflow, snip, grad_norm) sum over the weights of the
``Conv2d`` and ``Linear`` layers (the "prunable" parameters), not over biases or norm layers.

Every function leaves the model as it found it: parameters, buffers (BN running stats), ``.grad``
and train/eval flags are restored. Data-dependent proxies run in train mode (BN uses batch
statistics, as in the references) with dropout and stochastic depth switched off, so a score is a
deterministic function of the weights and the batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import StochasticDepth

__all__ = ["CODE_ACTIVATIONS", "grad_norm", "jacob_cov", "naswot", "prunable_weights", "snip", "synflow"]

CODE_ACTIVATIONS: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.SiLU, nn.Hardswish, nn.GELU, nn.Tanh,
)
"""Layers whose input sign gives NASWOT's binary code: each is > 0 exactly where its input is.
The reference hooks ReLU only; the smooth ones (and tanh, for LeNet-5) are our extension."""

_STOCHASTIC = (nn.Dropout, nn.Dropout2d, StochasticDepth)


def prunable_weights(model: nn.Module) -> list[Tensor]:
    """The weights of every ``Conv2d`` and ``Linear`` layer, the parameters the references score."""
    return [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _logits(output: Tensor | tuple[Tensor, ...]) -> Tensor:
    """The main logits: a network with auxiliary classifiers returns ``(logits, aux...)`` in train mode."""
    return output[0] if isinstance(output, tuple) else output


@contextmanager
def _preserved(model: nn.Module, *, train: bool) -> Iterator[None]:
    """Run in train (stochastic layers off) or eval mode; restore modes, buffers and grads after."""
    modes = {m: m.training for m in model.modules()}
    buffers = [(b, b.detach().clone()) for b in model.buffers()]
    grads = [(p, p.grad) for p in model.parameters()]
    model.train(train)
    for m in model.modules():
        if isinstance(m, _STOCHASTIC):
            m.eval()
    try:
        yield
    finally:
        for m, mode in modes.items():
            m.training = mode
        with torch.no_grad():
            for b, saved in buffers:
                b.copy_(saved)
        for p, g in grads:
            p.grad = g


def synflow(model: nn.Module, input_shape: Sequence[int]) -> float:
    """SynFlow (Tanaka et al., NeurIPS 2020): ``sum |theta * dR/dtheta|`` with ``R`` the output sum
    of the linearized network (``|theta|``, float64) on an all-ones input, so it needs no data.

    BN layers run in eval mode: a fresh BN (running mean 0, var 1) is then the identity up to
    ``(1 + eps) ** -0.5``, which matches the reference's copy of the network without BN.
    ``input_shape`` is ``(C, H, W)`` or ``(N, C, H, W)``; the reference uses a batch of one.
    """
    shape = tuple(input_shape)
    if len(shape) == 3:
        shape = (1, *shape)
    dtypes = {p: p.dtype for p in model.parameters()} | {b: b.dtype for b in model.buffers()}
    with _preserved(model, train=False):
        signs: list[tuple[Tensor, Tensor]] = []
        try:
            with torch.no_grad():
                for t in dtypes:
                    if t.is_floating_point():
                        t.data = t.data.double()
                for p in model.parameters():
                    signs.append((p, torch.sign(p)))
                    p.abs_()
            weights = prunable_weights(model)
            output = _logits(model(torch.ones(shape, dtype=torch.float64)))
            grads = torch.autograd.grad(output.sum(), weights, allow_unused=True)
            pairs = zip(weights, grads, strict=True)
            total = sum(float((w.detach() * g).abs().sum()) for w, g in pairs if g is not None)
        finally:
            with torch.no_grad():
                for param, sign in signs:
                    param.mul_(sign)
                for t, dtype in dtypes.items():
                    t.data = t.data.to(dtype)
    return float(total)


def naswot(model: nn.Module, x: Tensor) -> float:
    """NASWOT (Mellor et al., ICML 2021): ``log|K|`` of the Hamming kernel of the binary codes
    ``input > 0`` of every ReLU-like layer over the batch; ``K = C C^T + (1-C)(1-C)^T``.

    Codes are read by forward pre-hooks, before in-place activations overwrite their input.
    Returns ``-inf`` when two samples share a code (``K`` is singular) or no layer is hooked.
    """
    n = x.shape[0]
    kernel = torch.zeros(n, n, dtype=torch.float64)

    def hook(module: nn.Module, inputs: tuple[Tensor, ...]) -> None:
        codes = (inputs[0].detach().reshape(n, -1) > 0).double()
        kernel.add_(codes @ codes.T + (1 - codes) @ (1 - codes).T)

    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, CODE_ACTIVATIONS)]
    try:
        with _preserved(model, train=True), torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    _, logdet = torch.linalg.slogdet(kernel)
    return float(logdet)


def _loss_grads(model: nn.Module, x: Tensor, y: Tensor) -> tuple[list[Tensor], list[Tensor | None]]:
    weights = prunable_weights(model)
    with _preserved(model, train=True):
        loss = F.cross_entropy(_logits(model(x)), y)
        grads = torch.autograd.grad(loss, weights, allow_unused=True)
    return weights, list(grads)


def grad_norm(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Gradient norm (Abdelfattah et al., ICLR 2021): ``sum_layers ||dL/dW||`` of the cross-entropy."""
    _, grads = _loss_grads(model, x, y)
    return float(sum(float(g.norm()) for g in grads if g is not None))


def snip(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """SNIP saliency (Lee et al., ICLR 2019), summed: ``sum |W * dL/dW|`` of the cross-entropy."""
    weights, grads = _loss_grads(model, x, y)
    return float(sum(float((w.detach() * g).abs().sum()) for w, g in zip(weights, grads, strict=True) if g is not None))


def jacob_cov(model: nn.Module, x: Tensor) -> float:
    """Jacobian covariance (Mellor et al. 2020, v1 of NASWOT; as in Abdelfattah et al.'s reference):
    eigenvalues ``v`` of the correlation of per-sample input gradients of the output sum, score
    ``-sum(log(v + k) + 1/(v + k))`` with ``k = 1e-5``.

    Eigenvalues are clipped at 0 (round-off); ``nan`` when a sample's Jacobian is constant.
    """
    inputs = x.detach().clone().requires_grad_(True)
    with _preserved(model, train=True):
        (jacobian,) = torch.autograd.grad(_logits(model(inputs)).sum(), inputs)
    corr = torch.corrcoef(jacobian.reshape(x.shape[0], -1).double())
    if not bool(torch.isfinite(corr).all()):
        return math.nan
    eig = torch.linalg.eigvalsh(corr).clamp(min=0.0)
    k = 1e-5
    score = -torch.sum(torch.log(eig + k) + 1.0 / (eig + k))
    return float(score) if torch.isfinite(score) else math.nan
