"""Datasets load real files into memory; batches are a pure function of (seed, step)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from diffkit.errors import DataError
from diffkit.interfaces import ImageData
from diffkit.runner.data import Batches, fit_size


def write_idx(path: Path, array: np.ndarray, gz: bool) -> None:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


def test_digits_is_real_bundled_data(plugins):
    ds = plugins.registry.build("dataset", {"name": "digits"})
    train, test = ds.load("train"), ds.load("test")
    assert train.images.shape == (1500, 1, 8, 8) and test.images.shape == (297, 1, 8, 8)
    assert train.images.dtype == torch.uint8 and int(train.images.max()) == 255
    assert set(train.labels.tolist()) == set(range(10)) and train.num_classes == 10


@pytest.mark.parametrize("gz", [True, False])
def test_idx_files_are_parsed(plugins, tmp_path: Path, gz: bool):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(7, 28, 28))
    labels = rng.integers(0, 10, size=(7,))
    suffix = ".gz" if gz else ""
    write_idx(tmp_path / f"t10k-images-idx3-ubyte{suffix}", images, gz)
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{suffix}", labels, gz)
    data = plugins.registry.build("dataset", {"name": "fashion_mnist", "root": str(tmp_path)}).load("test")
    assert torch.equal(data.images[:, 0], torch.from_numpy(images.astype(np.uint8)))
    assert torch.equal(data.labels, torch.from_numpy(labels))


def test_truncated_idx_is_a_clear_error(plugins, tmp_path: Path):
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((3, 28, 28)), gz=False)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes((tmp_path / "t10k-images-idx3-ubyte").read_bytes()[:-5])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(3), gz=False)
    with pytest.raises(DataError, match="truncated"):
        plugins.registry.build("dataset", {"name": "mnist", "root": str(tmp_path)}).load("test")


def test_missing_dataset_names_the_path_and_how_to_get_it(plugins, tmp_path: Path):
    with pytest.raises(DataError) as e:
        plugins.registry.build("dataset", {"name": "fashion_mnist", "root": str(tmp_path / "nope")}).load("train")
    msg = str(e.value)
    assert (
        str(tmp_path / "nope") in msg and "apt-get install dataset-fashion-mnist" in msg and "data.download=true" in msg
    )


@pytest.mark.skipif(
    not Path("/usr/share/datasets/fashion-mnist").is_dir(), reason="Debian's dataset-fashion-mnist is not installed"
)
def test_debian_fashion_mnist(plugins):
    data = plugins.registry.build("dataset", {"name": "fashion_mnist"}).load("test")
    assert data.images.shape == (10000, 1, 28, 28) and data.labels.bincount().tolist() == [1000] * 10


def test_image_folder_labels_by_subfolder_and_resizes(plugins, tmp_path: Path):
    for cls, colour in (("cats", 30), ("dogs", 220)):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.new("RGB", (40 + i, 30), (colour, colour, colour)).save(tmp_path / cls / f"{i}.png")
    data = plugins.registry.build("dataset", {"name": "image_folder", "root": str(tmp_path)}, image_size=16).load()
    assert data.images.shape == (6, 3, 16, 16) and data.num_classes == 2
    assert data.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert (data.images[:3] == 30).all() and (data.images[3:] == 220).all()


def test_fit_size_resizes_uint8_images():
    data = fit_size(ImageData(torch.full((2, 1, 8, 8), 200, dtype=torch.uint8), None), 16)
    assert data.images.shape == (2, 1, 16, 16) and (data.images == 200).all()


def test_batches_cover_each_epoch_and_are_reproducible_by_step():
    data = ImageData(torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1), torch.arange(10))
    b = Batches(data, batch_size=4, seed=3, device=torch.device("cpu"))
    first_epoch = torch.cat([b.indices(s) for s in range(5)])  # 20 draws = 2 epochs
    assert sorted(first_epoch[:10].tolist()) == list(range(10))
    assert sorted(first_epoch[10:].tolist()) == list(range(10))
    fresh = Batches(data, batch_size=4, seed=3, device=torch.device("cpu"))
    assert torch.equal(fresh.indices(3), b.indices(3))
    x, y = b(0)
    assert torch.equal(((x.flatten() + 1) * 127.5).round().long(), y)


def test_ranks_take_disjoint_slices_of_the_global_batch():
    data = ImageData(torch.zeros(12, 1, 1, 1, dtype=torch.uint8), None)
    ranks = [Batches(data, 3, seed=0, device=torch.device("cpu"), rank=r, world_size=2) for r in range(2)]
    single = Batches(data, 6, seed=0, device=torch.device("cpu"))
    for step in range(4):
        assert torch.equal(torch.cat([r.indices(step) for r in ranks]), single.indices(step))
