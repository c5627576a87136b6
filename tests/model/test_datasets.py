"""Dataset loaders on tiny fixtures written by the tests (VOC, CamVid, folder) and the synthetic set."""
import numpy as np
import pytest
import torch
from PIL import Image

from unetaccel.model.datasets import (CAMVID_TABLE, IGNORE_INDEX, DatasetError, dataset_info, get_dataset)

from dsfixtures import VOC_LABELS, rgb as _rgb, voc as _voc

SEED = 7


# -- synthetic ----------------------------------------------------------------

def test_synthetic_is_deterministic_and_seeded():
    a = get_dataset("synthetic", split="val", seed=3)
    b = get_dataset("synthetic", split="val", seed=3)
    c = get_dataset("synthetic", split="val", seed=4)
    for i in (0, 5):
        assert np.array_equal(a[i][0], b[i][0]) and np.array_equal(a[i][1], b[i][1])
    assert not np.array_equal(a[0][0], c[0][0])
    img, mask = a[0]
    assert img.dtype == np.uint8 and img.shape == (3, 64, 64)
    assert mask.dtype == np.int64 and mask.shape == (64, 64)


def test_synthetic_covers_every_class_and_has_overlaps():
    ds = get_dataset("synthetic", split="train", augment=False, length=512)
    masks = np.stack([ds[i][1] for i in range(len(ds))])
    counts = np.bincount(masks.ravel(), minlength=21)
    assert np.all(counts[:21] > 0), counts
    assert masks.max() < 21
    per_image = [len(np.unique(m)) for m in masks]
    assert max(per_image) >= 4  # several objects in one image


def test_synthetic_class_is_not_a_colour():
    """The same class appears in very different colours: colour alone cannot tell it."""
    ds = get_dataset("synthetic", split="train", augment=False, length=200, num_classes=5)
    means = []
    for i in range(len(ds)):
        img, mask = ds[i]
        if (mask == 1).sum() > 50:
            means.append(img[:, mask == 1].mean(axis=1))
    assert len(means) > 5
    assert np.ptp(np.array(means), axis=0).max() > 100


def test_synthetic_non_square_and_class_count():
    ds = get_dataset("synthetic", split="val", size=(48, 64), num_classes=5)
    img, mask = ds[1]
    assert img.shape == (3, 48, 64) and mask.shape == (48, 64) and mask.max() < 5
    assert dataset_info("synthetic", num_classes=5)["num_classes"] == 5
    with pytest.raises(DatasetError, match="at most 36 classes"):
        get_dataset("synthetic", num_classes=50)


def test_augmentation_on_for_train_off_for_val():
    print("seed", SEED)
    tr = get_dataset("synthetic", split="train", seed=SEED)
    plain = get_dataset("synthetic", split="train", seed=SEED, augment=False)
    assert any(not np.array_equal(tr[i][0], plain[i][0]) for i in range(4))
    tr.set_epoch(1)
    a = tr[0]
    tr.set_epoch(1)
    assert np.array_equal(tr[0][0], a[0])  # deterministic per (seed, epoch, index)
    val = get_dataset("synthetic", split="val", seed=SEED)
    assert np.array_equal(val[0][0], get_dataset("synthetic", split="val", seed=SEED, augment=False)[0][0])
    # augmentation never invents labels: only original values and the ignore index
    for i in range(8):
        m_aug, m_plain = tr[i][1], plain[i][1]
        assert set(np.unique(m_aug)) <= set(np.unique(m_plain)) | {IGNORE_INDEX}


# -- VOC ------------------------------------------------------------------------

def test_voc_labels_are_palette_indices_not_divided_by_255(tmp_path):
    _voc(tmp_path)
    ds = get_dataset("voc", root=tmp_path, split="train", size=(20, 24), augment=False)
    assert len(ds) == 2
    _, mask = ds[0]
    # the original project's loader divided by 255: every label would collapse to 0 or 1
    assert set(np.unique(mask).tolist()) == VOC_LABELS
    # and the labels survive the training pipeline (collate + DataLoader), where a ToTensor-style
    # transform would have divided them
    from unetaccel.model.train import make_loader
    _, batch_masks = next(iter(make_loader(ds, 2, False, SEED)))
    assert batch_masks.dtype == torch.int64
    assert np.array_equal(batch_masks.numpy(), np.stack([ds[0][1], ds[1][1]]))
    assert dataset_info("voc", root=tmp_path)["num_classes"] == 21


@pytest.mark.parametrize("size", [(37, 50), (64, 64), (10, 12), (13, 40)])
def test_resizing_keeps_mask_labels(tmp_path, size):
    """Masks are resized NEAREST: a bilinear resize would invent labels between 0, 7, 15 and 255."""
    _voc(tmp_path)
    ds = get_dataset("voc", root=tmp_path, split="train", size=size, augment=False)
    for i in range(len(ds)):
        img, mask = ds[i]
        assert img.shape == (3, *size) and mask.shape == size
        labels = set(np.unique(mask).tolist())
        assert labels <= VOC_LABELS, f"resize to {size} invented labels {sorted(labels - VOC_LABELS)}"
        assert {7, 15} <= labels  # the objects are still there


@pytest.mark.parametrize("size,match", [((0, 64), r"size 0x64: height and width must be positive"),
                                        ((64, -8), r"size 64x-8"), ((64,), r"size \(64,\): expected"),
                                        ((64.5, 64), r"expected \(height, width\), two positive integers")])
def test_bad_sizes_are_a_dataset_error(size, match):
    with pytest.raises(DatasetError, match=match):
        get_dataset("synthetic", size=size)


def test_voc_errors_name_the_path(tmp_path):
    with pytest.raises(DatasetError, match=str(tmp_path / "nothing")):
        get_dataset("voc", root=tmp_path / "nothing")
    base = _voc(tmp_path / "rgb", mode="RGB")
    ds = get_dataset("voc", root=tmp_path / "rgb", size=(20, 24))
    with pytest.raises(DatasetError, match=r"SegmentationClass/a.png: expected a single-channel.*mode RGB"):
        ds[0]
    base2 = _voc(tmp_path / "missing")
    (base2 / "JPEGImages" / "b.jpg").unlink()
    with pytest.raises(DatasetError, match=r"JPEGImages/b.jpg is missing"):
        get_dataset("voc", root=tmp_path / "missing")
    assert base.exists()


# -- CamVid -----------------------------------------------------------------------

def _camvid(root, lossy=False, header="name,r,g,b"):
    (root / "train").mkdir(parents=True)
    (root / "train_labels").mkdir()
    rows = [("Sky", (128, 128, 128)), ("Road", (128, 64, 128)), ("Car", (64, 0, 128)), ("Void", (0, 0, 0))]
    (root / "class_dict.csv").write_text(header + "\n" + "".join(f"{n},{r},{g},{b}\n" for n, (r, g, b) in rows))
    m = np.zeros((20, 24, 3), np.uint8)
    m[:8] = (128, 128, 128)
    m[8:14] = (128, 64, 128)
    m[14:, :12] = (64, 0, 128)
    m[14:, 12:] = (0, 0, 0)
    m[0, 0] = (1, 2, 3)  # a colour not in the table
    Image.fromarray(_rgb()).save(root / "train" / "0001TP_000.png")
    if lossy:
        Image.fromarray(m).save(root / "train_labels" / "0001TP_000_L.jpg", quality=70)
        (root / "train_labels" / "0001TP_000_L.jpg").rename(root / "train_labels" / "0001TP_000_L.png")
    else:
        Image.fromarray(m).save(root / "train_labels" / "0001TP_000_L.png")
    return m


def test_camvid_exact_colours(tmp_path):
    _camvid(tmp_path)
    ds = get_dataset("camvid", root=tmp_path, split="train", size=(20, 24), augment=False)
    assert ds.class_names == ["Sky", "Road", "Car"]
    _, mask = ds[0]
    assert mask[1, 5] == 0 and mask[10, 5] == 1 and mask[16, 3] == 2
    assert mask[16, 20] == IGNORE_INDEX  # Void -> ignore
    assert mask[0, 0] == IGNORE_INDEX  # unknown colour -> ignore


def test_camvid_nearest_colour_for_lossy_masks(tmp_path):
    truth = _camvid(tmp_path, lossy=True)
    exact = get_dataset("camvid", root=tmp_path, size=(20, 24), augment=False)[0][1]
    near = get_dataset("camvid", root=tmp_path, size=(20, 24), augment=False, nearest_colour=True)[0][1]
    assert (exact == IGNORE_INDEX).mean() > 0.2  # JPEG noise breaks exact matching
    want = np.full((20, 24), IGNORE_INDEX)
    want[:8], want[8:14], want[14:, :12] = 0, 1, 2
    inner = np.zeros_like(want, bool)
    inner[2:6, 2:22] = inner[9:12, 2:22] = inner[16:19, 2:10] = True
    assert np.array_equal(near[inner], want[inner])
    assert truth.shape == (20, 24, 3)


def test_camvid_bad_header_and_missing_mask(tmp_path):
    _camvid(tmp_path / "h", header="label,red,green,blue")
    with pytest.raises(DatasetError, match="class_dict.csv must start with the header"):
        get_dataset("camvid", root=tmp_path / "h")
    _camvid(tmp_path / "m")
    Image.fromarray(_rgb()).save(tmp_path / "m" / "train" / "0002TP_000.png")
    with pytest.raises(DatasetError, match="0002TP_000.png has no mask"):
        get_dataset("camvid", root=tmp_path / "m")


def test_camvid_builtin_table_has_32_classes():
    assert len(CAMVID_TABLE) == 32


# -- folder ---------------------------------------------------------------------------

def _folder(root, n=5, classes=4):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(n):
        Image.fromarray(_rgb(seed=i)).save(root / "images" / f"img{i}.png")
        m = np.full((20, 24), i % classes, np.uint8)
        m[0, 0] = classes - 1
        Image.fromarray(m).save(root / "masks" / f"img{i}.png")


def test_folder_pairs_splits_and_classes(tmp_path):
    _folder(tmp_path)
    tr = get_dataset("folder", root=tmp_path, split="train", size=(16, 16))
    va = get_dataset("folder", root=tmp_path, split="val", size=(16, 16))
    assert len(tr) == 4 and len(va) == 1 and tr.num_classes == 4
    img, mask = va[0]
    assert img.shape == (3, 16, 16) and mask.max() < 4


def test_folder_errors(tmp_path):
    _folder(tmp_path / "a")
    (tmp_path / "a" / "masks" / "img3.png").unlink()
    with pytest.raises(DatasetError, match="img3.png has no mask"):
        get_dataset("folder", root=tmp_path / "a")
    _folder(tmp_path / "b")
    Image.fromarray(np.full((20, 24), 9, np.uint8)).save(tmp_path / "b" / "masks" / "img0.png")
    ds = get_dataset("folder", root=tmp_path / "b", num_classes=4, split="all")
    with pytest.raises(DatasetError, match=r"masks/img0.png: values \[9\]"):
        ds[0]
    _folder(tmp_path / "c")
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "c" / "masks" / "img1.png")
    ds = get_dataset("folder", root=tmp_path / "c", split="all")
    with pytest.raises(DatasetError, match=r"img1.png: size 10x10 does not match its image"):
        ds[1]
    with pytest.raises(DatasetError, match="not one of synthetic, voc, camvid, folder"):
        get_dataset("imagenet")
