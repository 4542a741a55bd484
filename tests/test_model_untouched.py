"""The user's model is identical after every call: weights, flags, grads."""

from __future__ import annotations

import io

import numpy as np
import torch

from deepaid_widgets import explain, interpret


class Detector(torch.nn.Module):
    """Dropout and batch norm make train mode and buffers observable."""

    def __init__(self) -> None:
        super().__init__()
        self.encode = torch.nn.Sequential(
            torch.nn.Linear(8, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU()
        )
        self.dropout = torch.nn.Dropout(0.3)
        self.decode = torch.nn.Linear(4, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.dropout(self.encode(x)))


def snapshot(model: torch.nn.Module) -> dict:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return {
        "state": buffer.getvalue(),
        "training": [module.training for module in model.modules()],
        "requires_grad": [p.requires_grad for p in model.parameters()],
        "grads": [
            None if p.grad is None else p.grad.clone() for p in model.parameters()
        ],
    }


def same(a: dict, b: dict) -> bool:
    grads_equal = all(
        (x is None and y is None)
        or (x is not None and y is not None and torch.equal(x, y))
        for x, y in zip(a["grads"], b["grads"], strict=True)
    )
    keys = ("state", "training", "requires_grad")
    return grads_equal and all(a[key] == b[key] for key in keys)


def test_interpret_and_explain_leave_the_model_untouched() -> None:
    torch.manual_seed(0)
    model = Detector()
    normal = torch.randn(64, 8)
    model.train()
    model(normal).pow(2).mean().backward()  # leaves .grad on some parameters
    model.decode.bias.grad = None
    model.encode[0].weight.requires_grad_(False)
    before = snapshot(model)
    x = np.full(8, 4.0, dtype=np.float32)

    interpret(model, x, normal=normal.numpy(), noise=0.05, seed=1)
    panel = explain(model, x, normal=normal.numpy())
    panel.set_params(k=2)
    assert panel.wait(30)
    panel.close()

    assert same(before, snapshot(model))
    assert model.training
