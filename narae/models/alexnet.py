"""AlexNet (Krizhevsky et al., 2012) in torchvision's single-tower form (from "One weird
trick", 2014: 64/192/384/256/256 filters, no local response normalisation).

61,100,840 parameters at 1000 classes; keys ``features.0.weight`` ... ``classifier.6.bias``.
"""
from .. import nn

__all__ = ["AlexNet", "alexnet"]


class AlexNet(nn.Module):
    """Five convolutions (11x11/4 first) with three 3x3/2 max pools, adaptive 6x6 average pool,
    then dropout-regularised 4096-4096 fully connected layers."""

    def __init__(self, num_classes=1000, dropout=0.5, in_channels=3):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(True),
            nn.MaxPool2d(kernel_size=3, stride=2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(True),
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(True),
            nn.Linear(4096, num_classes))

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def alexnet(num_classes=1000, dropout=0.5, **kwargs):
    """AlexNet with torchvision's defaults (inputs of at least 63x63 pixels)."""
    return AlexNet(num_classes=num_classes, dropout=dropout, **kwargs)
