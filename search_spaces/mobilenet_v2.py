"""MobileNetV2 (Sandler et al. 2018), equal to torchvision's mobilenet_v2 at width = depth = 1."""
from scalesearch.model.spaces import SearchSpace, Stage, Stem


def _inverted_residual(expand, channels, repeats, stride):
    return Stage("inverted_residual", 3, stride, expand, channels, repeats)


SPACE = SearchSpace(
    name="mobilenet_v2",
    stem=Stem(channels=32, kernel=3, stride=2),
    stages=(
        _inverted_residual(1, 16, 1, 1),
        _inverted_residual(6, 24, 2, 2),
        _inverted_residual(6, 32, 3, 2),
        _inverted_residual(6, 64, 4, 2),
        _inverted_residual(6, 96, 3, 1),
        _inverted_residual(6, 160, 3, 2),
        _inverted_residual(6, 320, 1, 1),
    ),
    head_channels=1280,
    resolution=224,
    activation="relu6",
    dropout=0.2,
    drop_connect=0.0,
    bn_eps=1e-5,
    bn_momentum=0.1,
    scale_head=False,  # torchvision: last_channel * max(1.0, width) — the head never shrinks
    description="MobileNetV2: inverted residuals, ReLU6, no SE; 3.5M params at 1000 classes",
)
