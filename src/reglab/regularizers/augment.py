"""Data augmentation (`regularizer=augment`) on whole in-memory batches, on their device.

Random crop with zero padding, horizontal flip and random grayscale, each drawn per sample, on
training batches only. Written here rather than taken from torchvision.transforms.v2 (which
draws one set of parameters per call, so per-sample randomness means a Python loop over the
batch) or kornia (per-sample, but crops through an affine warp and grid sampling):
`scripts/bench_epoch.py --augment-only` measures all three on the same batches.

The generator is reseeded from (seed, epoch, rank) at every epoch, so a run is reproducible and
a resumed run draws the same augmentations as an uninterrupted one.
"""

import torch
import torch.nn.functional as F

from reglab.config.errors import ConfigError
from reglab.regularizers.settings import AugmentConfig

# ITU-R 601 luma, as torchvision's rgb_to_grayscale
LUMA = (0.299, 0.587, 0.114)


def check_images(cfg: AugmentConfig, in_shape: tuple[int, ...], dataset: str) -> None:
    """Augmentation needs images; grayscale needs RGB ones. Raises before training."""
    if len(in_shape) != 3:
        raise ConfigError(
            f"regularizer.augment needs an image data set; dataset={dataset} has inputs of "
            f"shape {tuple(in_shape)}: remove regularizer=augment or choose an image data set "
            "(fashion_mnist, cifar10, rmb)"
        )
    if cfg.grayscale > 0 and in_shape[0] != 3:
        raise ConfigError(
            f"regularizer.augment.grayscale={cfg.grayscale} needs RGB images; dataset={dataset} "
            f"has {in_shape[0]} channel(s): set regularizer.augment.grayscale=0"
        )


def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Per-sample crop of x's size from x zero-padded by `padding` on each side."""
    if padding == 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    dy = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator, device=x.device)
    dx = torch.randint(0, 2 * padding + 1, (n, 1), generator=generator, device=x.device)
    rows = (dy + torch.arange(h, device=x.device))[:, :, None]  # (n, h, 1)
    cols = (dx + torch.arange(w, device=x.device))[:, None, :]  # (n, 1, w)
    batch = torch.arange(n, device=x.device)[:, None, None]
    # channels-last gather: one index per output pixel, all channels at once
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def random_flip(x: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    if p == 0:
        return x
    chosen = torch.rand(len(x), generator=generator, device=x.device) < p
    return torch.where(chosen[:, None, None, None], x.flip(3), x)


def random_grayscale(x: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """x: float RGB in [0, 1]; chosen samples get their luma in all three channels."""
    if p == 0:
        return x
    chosen = torch.rand(len(x), generator=generator, device=x.device) < p
    luma = torch.tensor(LUMA, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    gray = (x * luma).sum(1, keepdim=True).expand_as(x)
    return torch.where(chosen[:, None, None, None], gray, x)


class BatchAugment:
    def __init__(self, cfg: AugmentConfig, seed: int):
        self.cfg = cfg
        self.seed = seed
        self._generator: torch.Generator | None = None
        self._state: tuple | None = None

    def start(self, device: torch.device, epoch: int, rank: int = 0) -> None:
        """Reseeds for this epoch and rank (no-op when already seeded for them)."""
        state = (device, epoch, rank)
        if state != self._state:
            self._generator = torch.Generator(device=device)
            self._generator.manual_seed(hash((self.seed, epoch, rank)) % (2**63))
            self._state = state

    def _rng(self, x: torch.Tensor) -> torch.Generator:
        if self._generator is None or self._generator.device != x.device:
            self.start(x.device, epoch=0)
        return self._generator

    def geometric(self, x: torch.Tensor) -> torch.Tensor:
        """Crop and flip; any dtype (uint8 images before conversion cost 4x less traffic)."""
        g = self._rng(x)
        return random_flip(random_crop(x, self.cfg.crop_padding, g), self.cfg.flip, g)

    def color(self, x: torch.Tensor) -> torch.Tensor:
        """Grayscale; float in [0, 1], before normalisation (as torchvision's order)."""
        return random_grayscale(x, self.cfg.grayscale, self._rng(x))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 or [0, 1] float images -> augmented float images in [0, 1]."""
        x = self.geometric(x)
        if x.dtype == torch.uint8:
            x = x.float().div_(255.0)
        return self.color(x)
