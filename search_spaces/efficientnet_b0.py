"""EfficientNet-B0 exactly as released (tensorflow/tpu efficientnet_builder.py)."""
from scalesearch.model.spaces import SearchSpace, Stage, Stem


def _mbconv(expand, kernel, stride, channels, repeats):
    return Stage("mbconv", kernel, stride, expand, channels, repeats, se_ratio=0.25)


SPACE = SearchSpace(
    name="efficientnet_b0",
    stem=Stem(channels=32, kernel=3, stride=2),
    stages=(
        _mbconv(1, 3, 1, 16, 1),
        _mbconv(6, 3, 2, 24, 2),
        _mbconv(6, 5, 2, 40, 2),
        _mbconv(6, 3, 2, 80, 3),
        _mbconv(6, 5, 1, 112, 3),
        _mbconv(6, 5, 2, 192, 4),
        _mbconv(6, 3, 1, 320, 1),
    ),
    head_channels=1280,
    resolution=224,
    activation="silu",
    dropout=0.2,
    drop_connect=0.2,
    bn_eps=1e-3,
    description="EfficientNet-B0 (Tan & Le 2019): MBConv + SE, SiLU, 5.3M params at 1000 classes",
)
