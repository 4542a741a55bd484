"""Scoring with a private, frozen copy of the user's detector.

The user's module is never touched: it is deep-copied once, the copy is put in
eval mode with gradients off for its parameters, and every forward pass runs on
the copy. Gradients are taken with respect to the input only.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import nn

from .._errors import InputError

#: Signature of a batched anomaly score: ``(b, d)`` float tensor -> ``(b,)``.
ScoreFunction = Callable[[torch.Tensor], torch.Tensor]


def frozen_copy(model: nn.Module) -> nn.Module:
    """An eval-mode copy of ``model`` whose parameters need no gradient."""
    if not isinstance(model, nn.Module):
        raise InputError(
            "model",
            "a torch.nn.Module (an autoencoder mapping x to its reconstruction) "
            "or a deepaid_widgets AutoencoderDetector",
            f"{type(model).__name__}",
            "Wrap your detector in a torch.nn.Module whose forward returns the "
            "reconstruction of its input.",
        )
    try:
        private = copy.deepcopy(model)
    except Exception as error:
        raise InputError(
            "model",
            "a module that copy.deepcopy can copy (the interpreter never runs "
            "your own instance, so that it stays untouched)",
            f"{type(model).__name__}, whose copy raised {type(error).__name__}: "
            f"{error}",
            "Remove un-copyable attributes (open files, locks) from the module.",
        ) from error
    if isinstance(private, torch.jit.ScriptModule) or any(
        tensor.is_meta for tensor in [*private.parameters(), *private.buffers()]
    ):
        raise InputError(
            "model",
            "an eager torch.nn.Module with real weights",
            "a TorchScript module or one on the 'meta' device",
            "Pass the original Python module with its weights loaded.",
        )
    private.eval()
    private.requires_grad_(False)
    return private


class ReconstructionScore:
    """Score of an autoencoder: ``sqrt(mean((module(x) - x) ** 2))`` per row.

    ``module`` must already be a private frozen copy (see ``frozen_copy``).
    """

    def __init__(self, module: nn.Module) -> None:
        self.module = module

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        reconstruction = self.module(batch)
        return torch.sqrt(torch.mean((reconstruction - batch) ** 2, dim=-1))

    def reconstruct(self, batch: torch.Tensor) -> torch.Tensor:
        """The module's reconstruction of ``batch``, shape ``(b, d)``."""
        with torch.no_grad():
            return self.module(batch)


def checked_score(score: ReconstructionScore, probe: torch.Tensor) -> float:
    """Score ``probe`` (shape ``(1, d)``) once, with clear errors.

    One forward pass checks that the module runs, that its output is shaped
    like its input, and that the score is finite. Returns the score.
    """
    d = probe.shape[-1]
    try:
        with torch.no_grad():
            output = score.module(probe)
    except Exception as error:
        raise InputError(
            "model",
            f"a module that maps a float tensor of shape (n, {d}) to its "
            f"reconstruction of shape (n, {d})",
            f"a module that raised {type(error).__name__}: {error}",
            "Call model(x) yourself to see the failure; check that x has the "
            "length the model was trained on.",
        ) from error
    if not isinstance(output, torch.Tensor) or output.shape != probe.shape:
        received = (
            f"an output of shape {tuple(output.shape)}"
            if isinstance(output, torch.Tensor)
            else f"an output of type {type(output).__name__}"
        )
        raise InputError(
            "model",
            f"a reconstruction of shape {tuple(probe.shape)} (the input's shape)",
            received,
            "Pass an autoencoder whose forward returns the reconstruction of "
            "its input (a tensor of the same shape).",
        )
    value = torch.sqrt(torch.mean((output - probe) ** 2))
    result = float(value.item())
    if not torch.isfinite(value):
        raise InputError(
            "model",
            "a finite anomaly score for x",
            f"a score of {result}",
            "Check the model for NaN weights or an input far outside its range.",
        )
    return result
