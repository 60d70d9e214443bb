"""A user's own images: every picture under ``root``, labelled by sub-folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from diffkit.errors import ConfigError, DataError
from diffkit.interfaces import Dataset, ImageData

EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


class ImageFolder(Dataset):
    """Loads ``root/**/*.{png,jpg,...}`` into memory, resized (shorter side, then a
    centre crop) to ``image_size``. Images directly in sub-folders of ``root`` get the
    sub-folder as class label (sorted names); with no sub-folders there are no labels.
    Both splits are the same images.

    Args:
        channels: 1 (grey) or 3 (RGB).
    """

    def __init__(
        self, root: str | None = None, download: bool = False, image_size: int = 32, channels: int = 3
    ) -> None:
        super().__init__(root, download)
        if channels not in (1, 3):
            raise ConfigError(f"data.channels={channels!r} must be 1 or 3")
        self.image_size, self.channels = image_size, channels

    def load(self, split: str = "train") -> ImageData:
        from PIL import Image

        if not self.root:
            raise ConfigError("data.root must name the folder of images for data.name=image_folder")
        root = Path(self.root).expanduser()
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in EXTENSIONS) if root.is_dir() else []
        if not files:
            raise DataError(f"no images ({', '.join(sorted(EXTENSIONS))}) found under {root}")
        classes = sorted({p.relative_to(root).parts[0] for p in files if len(p.relative_to(root).parts) > 1})
        mode = "L" if self.channels == 1 else "RGB"
        arrays, labels = [], []
        for path in files:
            try:
                with Image.open(path) as im:
                    arrays.append(np.asarray(self._fit(im.convert(mode))))
            except Image.DecompressionBombError as e:
                raise DataError(f"refused image {path}: {e}") from None
            except OSError as e:
                raise DataError(f"cannot read image {path}: {e}") from None
            parts = path.relative_to(root).parts
            labels.append(classes.index(parts[0]) if classes and len(parts) > 1 else 0)
        images = torch.from_numpy(np.stack(arrays)).reshape(len(files), self.image_size, self.image_size, -1)
        images = images.permute(0, 3, 1, 2).contiguous()
        if not classes:
            return ImageData(images, None, 0)
        return ImageData(images, torch.tensor(labels, dtype=torch.long), len(classes))

    def _fit(self, im):  # noqa: ANN001, ANN202 - PIL image in and out
        from PIL import Image

        w, h = im.size
        scale = self.image_size / min(w, h)
        im = im.resize((max(self.image_size, round(w * scale)), max(self.image_size, round(h * scale))), Image.BICUBIC)
        w, h = im.size
        left, top = (w - self.image_size) // 2, (h - self.image_size) // 2
        return im.crop((left, top, left + self.image_size, top + self.image_size))
