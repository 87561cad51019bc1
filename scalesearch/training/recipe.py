"""How a proxy training uses its device: the CUDA recipe or the plain CPU one, decided in one place.

CUDA: bf16 autocast (tensor cores), channels-last model and inputs, and the resize in float (CUDA's
antialiased kernel takes floating point only). CPU: fp32, contiguous, and the resize on uint8, for which
CPU PyTorch has a fast kernel. Both keep the images on the device as uint8 (batches.to_storage).

Test aid: with ``SCALESEARCH_CUDA_ON_CPU=1`` and no CUDA GPU, a request for ``cuda`` trains on the CPU, and
every CPU training follows the CUDA recipe. PyTorch runs bf16 autocast, channels-last and the float resize on
the CPU as well, so the GPU code path runs (and is tested) on machines without a GPU (docs/proxy.md). Where
CUDA is available the switch does nothing.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os

import torch

CUDA_ON_CPU = "SCALESEARCH_CUDA_ON_CPU"


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str  # "cuda" or "cpu": the recipe, not the device it runs on
    memory_format: torch.memory_format  # of the model's weights and of every input batch
    autocast_dtype: torch.dtype | None  # forward and loss run under autocast to this; None: fp32
    float_resize: bool  # resize float images (uint8 otherwise)

    def autocast(self, device: torch.device):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=self.autocast_dtype)


CUDA = Recipe("cuda", torch.channels_last, torch.bfloat16, float_resize=True)
CPU = Recipe("cpu", torch.contiguous_format, None, float_resize=False)


def cuda_on_cpu() -> bool:
    """Whether the test aid is on (and can apply: this PyTorch sees no CUDA GPU)."""
    return os.environ.get(CUDA_ON_CPU, "") == "1" and not torch.cuda.is_available()


def recipe_for(device: torch.device) -> Recipe:
    return CUDA if device.type == "cuda" or cuda_on_cpu() else CPU
