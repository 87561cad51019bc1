"""ResNet-50 v1.5 (stride on the 3x3 conv), equal to torchvision's resnet50 at width = depth = 1."""
from scalesearch.model.spaces import SearchSpace, Stage, Stem


def _bottleneck(width, repeats, stride):
    return Stage("bottleneck", 3, stride, 1, width, repeats)


SPACE = SearchSpace(
    name="resnet50",
    stem=Stem(channels=64, kernel=7, stride=2, max_pool=True),
    stages=(
        _bottleneck(64, 3, 1),
        _bottleneck(128, 4, 2),
        _bottleneck(256, 6, 2),
        _bottleneck(512, 3, 2),
    ),
    head_channels=None,
    resolution=224,
    activation="relu",
    dropout=0.0,
    drop_connect=0.0,
    bn_eps=1e-5,
    bn_momentum=0.1,
    description="ResNet-50 v1.5: bottleneck blocks, ReLU; 25.6M params at 1000 classes",
)
