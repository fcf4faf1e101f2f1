"""reglab: a Hydra + PyTorch Lightning template for studying regularization."""

__version__ = "0.1.0"
