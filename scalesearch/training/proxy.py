"""The proxy training: a short, seeded training of one candidate → per-epoch and final metrics.

A plain function (no Ray): the runner calls it inside a trial and forwards ``on_epoch`` to Tune.
Recipe and measured speed: docs/proxy.md.
"""
from __future__ import annotations

import dataclasses
import math
import statistics
import time
from typing import Callable

import torch
from torch.nn import functional

from scalesearch.training import batches
from scalesearch.training.recipe import cuda_on_cpu, recipe_for
from scalesearch.training.timing import forward_ms
from scalesearch.model.build import build_model
from scalesearch.data.datasets import Dataset
from scalesearch.foundation.errors import InputError
from scalesearch.model.scaling import ModelSpec


class TrialFailed(RuntimeError):
    """The candidate's training broke down (non-finite loss); the runner records a failed trial."""


@dataclasses.dataclass(frozen=True)
class ProxyConfig:
    epochs: int = 4  # short: enough to rank candidates, far from convergence
    batch_size: int = 128  # the last partial batch of an epoch is dropped, so every step costs the same
    learning_rate: float = 0.1  # peak, after warm-up: the first cpu-tiny's 0.05 at batch 64, scaled linearly; a preset sets its own
    momentum: float = 0.9  # Nesterov: the usual choice for short SGD schedules
    weight_decay: float = 5e-5  # on conv/linear weights only; BN and biases are not decayed
    label_smoothing: float = 0.1  # softer targets: steadier ranking of under-trained networks
    # Replaces the space's BN momentum (EfficientNet's 0.01 suits ~1M steps): after a few hundred
    # steps at 0.01 the running statistics are still near their initial values and validation is noise;
    # 0.3 follows the fast-changing weights of a short training (docs/proxy.md).
    bn_momentum: float = 0.3
    warmup_fraction: float = 0.1  # of all steps, linear from 0: a fresh BN network diverges at full rate
    seed: int = 0  # weights, shuffling, augmentation, dropout: same seed, same result on CPU
    device: str = "auto"  # auto: cuda if available, else cpu
    max_steps: int | None = None  # cap on optimizer steps (ends the epoch in progress early)
    augment: bool = True  # random crop (pad 1/8) and horizontal flip, on the device
    # The share of its GPU this training may use (the run's --gpus-per-trial): the images are copied to the GPU
    # when they fit half of that share of its memory, else streamed from the host a batch at a time.
    gpu_share: float = 1.0

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1:
            raise InputError(f"proxy epochs and batch size must be at least 1, got {self.epochs} and {self.batch_size}")
        if not self.learning_rate > 0:
            raise InputError(f"proxy learning rate must be positive, got {self.learning_rate}")
        if not 0 <= self.warmup_fraction < 1:
            raise InputError(f"warm-up fraction must be in [0, 1), got {self.warmup_fraction}")
        if self.max_steps is not None and self.max_steps < 1:
            raise InputError(f"max_steps must be at least 1, got {self.max_steps}")
        if not self.gpu_share > 0:
            raise InputError(f"gpu_share must be positive, got {self.gpu_share}")


def proxy_config(settings: dict) -> ProxyConfig:
    """A ProxyConfig from plain settings (a run's, crossing to its Ray trials), refusing a key it does not know:
    a misspelled setting must not be dropped silently."""
    import dataclasses

    known = {field.name for field in dataclasses.fields(ProxyConfig)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise InputError(f"unknown proxy setting(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return ProxyConfig(**settings)


@dataclasses.dataclass(frozen=True)
class ProxyResult:
    accuracy: float  # validation top-1 after the last epoch
    loss: float  # validation cross-entropy (no label smoothing)
    train_loss: float  # mean training loss (with label smoothing) of the last epoch
    epochs: int  # epochs run, the last one possibly cut short by max_steps
    history: list[dict]  # the per-epoch dicts passed to on_epoch
    train_seconds: float  # wall time of training plus per-epoch validation
    images_per_second: float  # training images per second of training steps (validation excluded)
    peak_memory_bytes: int | None  # CUDA: max allocated; CPU: None (the process peak is not the trial's)
    latency_ms: float  # eval-mode forward at the candidate's resolution, median
    latency_ms_batch: float  # the same at the training batch size
    device: str
    recipe: str  # "cuda" or "cpu": how the device was used (recipe.py); "cuda" on a CPU only under its test aid

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def train_proxy(
    spec: ModelSpec,
    dataset: Dataset,
    config: ProxyConfig,
    on_epoch: Callable[[dict], None] | None = None,
) -> ProxyResult:
    """Train ``spec`` on ``dataset`` for ``config.epochs``; calls ``on_epoch`` after each (its errors propagate)."""
    device = resolve_device(config.device)
    batches.warn_if_upsampling(spec.resolution, dataset.source_resolution)
    on_cuda = device.type == "cuda"
    if on_cuda:
        torch.backends.cudnn.benchmark = True  # fixed shapes: pick the fastest kernels once
        torch.cuda.reset_peak_memory_stats(device)
    # CUDA: bf16 tensor cores and channels-last kernels; CPU: plain fp32, where both would be slower
    # (recipe.py; its test aid runs the CUDA recipe on the CPU).
    recipe = recipe_for(device)
    memory_format, autocast = recipe.memory_format, recipe.autocast(device)

    torch.manual_seed(config.seed)  # weights, dropout and drop-connect
    generator = torch.Generator(device=device).manual_seed(config.seed)  # shuffling and augmentation
    model = build_model(dataclasses.replace(spec, bn_momentum=config.bn_momentum), dataset.num_classes)
    # Zero-initialised classifier: all logits start at 0. The built model's uniform ±1/√classes init, sized for
    # 1,000 classes, makes 10-class logits large, and SGD did not recover within a proxy; zeroed, it learned at every
    # rate it was tried at (docs/proxy.md, "Two deliberate departures").
    torch.nn.init.zeros_(model.classifier.weight)
    model = model.to(device=device, memory_format=memory_format)
    optimizer = _optimizer(model, config)
    # On the device if they fit its share, the training set first; else streamed from the host (batches.place).
    budget = device_data_budget(device, config.gpu_share)
    train_images = batches.place(dataset.train_images, device, budget)
    if budget is not None and not isinstance(train_images, batches.Streamed):
        budget -= batches.nbytes(dataset.train_images)
    val_images = batches.place(dataset.val_images, device, budget)
    streamed = isinstance(train_images, batches.Streamed) and device.type != "cpu"
    train_labels = dataset.train_labels.to(device, non_blocking=True)
    val_labels = dataset.val_labels.to(device, non_blocking=True)

    batch_size = min(config.batch_size, len(train_labels))
    steps_per_epoch = len(train_labels) // batch_size
    total_steps = min(config.epochs * steps_per_epoch, config.max_steps or math.inf)
    warmup_steps = round(config.warmup_fraction * total_steps)

    history, step, step_seconds, started = [], 0, 0.0, time.perf_counter()
    for epoch in range(1, config.epochs + 1):
        epoch_started = time.perf_counter()
        steps = min(steps_per_epoch, total_steps - step)
        model.train()
        order = torch.randperm(len(train_labels), device=device, generator=generator)
        # Streamed to a GPU: the images are gathered on the host, by the same order, copied there once an epoch.
        host_order = order.cpu() if streamed else order
        # Losses stay on the device until the epoch ends: no per-step host sync on a GPU.
        losses = torch.empty(steps, device=device)
        for index in range(steps):
            batch = order[index * batch_size:(index + 1) * batch_size]
            images = host_order[index * batch_size:(index + 1) * batch_size]
            inputs = batches.train_batch(train_images, images, spec.resolution, generator, config.augment, recipe)
            for group in optimizer.param_groups:
                group["lr"] = learning_rate_at(step, total_steps, warmup_steps, config.learning_rate)
            with autocast:
                loss = functional.cross_entropy(model(inputs), train_labels[batch], label_smoothing=config.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses[index] = loss.detach()
            step += 1
        epoch_losses = losses.tolist()  # waits for the device: the step timing below is real
        step_seconds += time.perf_counter() - epoch_started
        _check_finite(epoch_losses, epoch)
        accuracy, val_loss = evaluate(model, val_images, val_labels, spec.resolution, batch_size, autocast, recipe)
        if not math.isfinite(val_loss):
            raise TrialFailed(f"validation loss became {val_loss} at epoch {epoch}")
        record = {"epoch": epoch, "accuracy": accuracy, "loss": val_loss,
                  "train_loss": statistics.fmean(epoch_losses), "seconds": time.perf_counter() - epoch_started}
        history.append(record)
        if on_epoch is not None:
            on_epoch(dict(record))
        if step >= total_steps:
            break
    train_seconds = time.perf_counter() - started

    latency_inputs = (spec.resolution, device, autocast, memory_format)
    return ProxyResult(
        accuracy=history[-1]["accuracy"],
        loss=history[-1]["loss"],
        train_loss=history[-1]["train_loss"],
        epochs=len(history),
        history=history,
        train_seconds=train_seconds,
        images_per_second=step * batch_size / step_seconds,
        peak_memory_bytes=torch.cuda.max_memory_allocated(device) if on_cuda else None,
        latency_ms=inference_latency_ms(model, 1, *latency_inputs),
        latency_ms_batch=inference_latency_ms(model, batch_size, *latency_inputs),
        device=str(device),
        recipe=recipe.name,
    )


def device_data_budget(device: torch.device, share: float) -> float | None:
    """Bytes of images a training keeps on its GPU: half its share of the GPU's memory (the rest is the model's,
    its activations' and the allocator's). None on a CPU: images in memory are already where it computes."""
    if device.type != "cuda":
        return None
    return DEVICE_DATA_FRACTION * min(share, 1.0) * torch.cuda.get_device_properties(device).total_memory


DEVICE_DATA_FRACTION = 0.5


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InputError(f"unknown device {name!r}; use auto, cpu or cuda") from None
    if device.type == "cuda" and cuda_on_cpu():
        return torch.device("cpu")  # the test aid: the CUDA recipe on the CPU (recipe.py)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device {name!r} asked for, but this PyTorch sees no CUDA GPU")
    return device


def _optimizer(model: torch.nn.Module, config: ProxyConfig) -> torch.optim.Optimizer:
    # Decaying BN scales and biases only fights the normalisation; decay conv/linear weights.
    decay = [parameter for parameter in model.parameters() if parameter.ndim > 1]
    no_decay = [parameter for parameter in model.parameters() if parameter.ndim <= 1]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.SGD(groups, lr=config.learning_rate, momentum=config.momentum, nesterov=True)


def learning_rate_at(step: int, total_steps: int, warmup_steps: int, peak: float) -> float:
    """Linear warm-up to ``peak`` over ``warmup_steps``, then cosine decay to 0 at ``total_steps``."""
    if step < warmup_steps:
        return peak * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return peak * 0.5 * (1 + math.cos(math.pi * progress))


def _check_finite(losses: list[float], epoch: int) -> None:
    for index, value in enumerate(losses):
        if not math.isfinite(value):
            raise TrialFailed(f"loss became {value} at epoch {epoch} step {index + 1}")


@torch.inference_mode()
def evaluate(model, images, labels, resolution, batch_size, autocast, recipe) -> tuple[float, float]:
    """(top-1 accuracy, mean cross-entropy) over the whole validation set."""
    model.eval()
    correct = torch.zeros((), device=labels.device, dtype=torch.int64)
    total_loss = torch.zeros((), device=labels.device)
    for start in range(0, len(labels), batch_size):
        stop = min(start + batch_size, len(labels))
        with autocast:
            logits = model(batches.eval_batch(images, start, stop, resolution, recipe)).float()
        total_loss += functional.cross_entropy(logits, labels[start:stop], reduction="sum")
        correct += (logits.argmax(1) == labels[start:stop]).sum()
    return correct.item() / len(labels), total_loss.item() / len(labels)


@torch.inference_mode()
def inference_latency_ms(model, batch_size, resolution, device, autocast, memory_format,
                         warmup: int = 2, repeats: int = 5) -> float:
    """Median eval-mode forward time in milliseconds, after ``warmup`` untimed runs."""
    model.eval()
    inputs = torch.randn(batch_size, 3, resolution, resolution, device=device).contiguous(memory_format=memory_format)
    timings = [forward_ms(model, inputs, device, autocast) for _ in range(warmup + repeats)]
    return statistics.median(timings[warmup:])
