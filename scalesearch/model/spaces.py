"""Search spaces: a base network as plain, frozen data, plus a name registry."""
from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

from scalesearch.foundation.errors import InputError

BLOCK_TYPES = ("mbconv", "inverted_residual", "bottleneck")


class SpaceError(InputError):
    """A search space is unknown, malformed or cannot be loaded."""


@dataclass(frozen=True)
class Stage:
    """Repeated blocks with one output width; only the first block strides.

    For ``bottleneck`` blocks ``channels`` is the bottleneck width and the
    block outputs ``channels * 4`` (ResNet's convention), so width scaling
    scales both.
    """

    block: str
    kernel: int
    stride: int
    expand_ratio: float
    channels: int
    repeats: int
    se_ratio: float = 0.0  # of the block's input channels, as in official EfficientNet

    def __post_init__(self):
        if self.block not in BLOCK_TYPES:
            raise SpaceError(f"unknown block type {self.block!r}; expected one of {', '.join(BLOCK_TYPES)}")
        if self.kernel < 1 or self.kernel % 2 == 0:
            raise SpaceError(f"kernel must be a positive odd number, got {self.kernel}")
        if self.stride not in (1, 2):
            raise SpaceError(f"stride must be 1 or 2, got {self.stride}")
        if self.channels < 1 or self.repeats < 1 or self.expand_ratio <= 0:
            raise SpaceError("stage channels, repeats and expand_ratio must be positive")


@dataclass(frozen=True)
class Stem:
    channels: int
    kernel: int = 3
    stride: int = 2
    max_pool: bool = False  # ResNet's 3x3/2 max pool after the stem


@dataclass(frozen=True)
class SearchSpace:
    """A base network (φ = 0) that compound scaling grows."""

    name: str
    stem: Stem
    stages: tuple[Stage, ...]
    head_channels: int | None  # 1x1 conv before pooling; None: pool the last stage directly
    resolution: int  # base input resolution in pixels
    activation: str = "silu"  # silu | relu | relu6
    dropout: float = 0.2  # before the classifier
    drop_connect: float = 0.2  # stochastic depth rate of the last block, linear from 0
    bn_eps: float = 1e-3
    bn_momentum: float = 0.01  # PyTorch convention (TF's 0.99 decay)
    scale_head: bool = True  # round_filters on the head; MobileNetV2 only grows it (max(1, w))
    description: str = ""

    def __post_init__(self):
        object.__setattr__(self, "stages", tuple(self.stages))
        if not self.stages:
            raise SpaceError(f"search space {self.name!r} has no stages")
        if self.activation not in ("silu", "relu", "relu6"):
            raise SpaceError(f"unknown activation {self.activation!r}")
        if self.resolution < 8:
            raise SpaceError(f"base resolution must be at least 8 pixels, got {self.resolution}")


def builtin_spaces() -> dict[str, SearchSpace]:
    from search_spaces import BUILTIN

    return dict(BUILTIN)


def load_space(name_or_path: str | SearchSpace) -> SearchSpace:
    """A built-in name, or ``path/to/file.py:NAME`` (imported only when named)."""
    if isinstance(name_or_path, SearchSpace):
        return name_or_path
    spaces = builtin_spaces()
    if name_or_path in spaces:
        return spaces[name_or_path]
    if ":" not in name_or_path:
        raise SpaceError(
            f"unknown search space {name_or_path!r}; built-in: {', '.join(spaces)}; "
            "or give path/to/file.py:NAME"
        )
    path_text, _, attribute = name_or_path.rpartition(":")
    path = Path(path_text)
    if not path.is_file():
        raise SpaceError(f"search space file not found: {path}")
    module_name = f"scalesearch_user_space_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise SpaceError(f"cannot import {path} as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SpaceError:
        raise
    except Exception as error:  # a user's file may fail in any way; report it in one line
        raise SpaceError(f"importing {path} failed: {type(error).__name__}: {error}") from error
    space = getattr(module, attribute, None)
    if space is None:
        raise SpaceError(f"{path} defines no {attribute!r}")
    if not isinstance(space, SearchSpace):
        raise SpaceError(f"{path}:{attribute} is a {type(space).__name__}, not a scalesearch SearchSpace")
    return space
