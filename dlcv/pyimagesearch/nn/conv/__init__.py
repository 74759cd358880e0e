"""The book's ``pyimagesearch.nn.conv``: ShallowNet (ch. 12), LeNet (ch. 14), MiniVGGNet (ch. 15)."""
from .lenet import LeNet
from .minivggnet import MiniVGGNet
from .shallownet import ShallowNet

__all__ = ["LeNet", "MiniVGGNet", "ShallowNet"]
