"""Built-in base networks for compound scaling. Add a file and register it here."""
from search_spaces.efficientnet_b0 import SPACE as EFFICIENTNET_B0
from search_spaces.mobilenet_v2 import SPACE as MOBILENET_V2
from search_spaces.resnet50 import SPACE as RESNET50

BUILTIN = {space.name: space for space in (EFFICIENTNET_B0, MOBILENET_V2, RESNET50)}
