"""Pictures of any size through the fixed-size network: tiling, stitching, padding (unetaccel.tiling
and `unetaccel infer`)."""
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from unetaccel import ir as irmod
from unetaccel import tiling as T
from unetaccel.ir import randnet
from unetaccel.palette import palette

SEED = 7


def test_starts_and_the_stitching_rule():
    assert T.starts(64, 64, 0) == [0] and T.starts(40, 64, 8) == [0]  # one tile; a small picture is padded
    assert T.starts(130, 64, 8) == [0, 56, 66]  # every 56, the last one ending at the edge
    assert T.starts(128, 64, 0) == [0, 64]
    # tiles at 0 and 36 (64 wide): pixel 49 is 14 from tile 0's border, 13 from tile 1's: tile 0;
    # pixel 50 is 13 from tile 0's, 14 from tile 1's: tile 1
    own = T.owner(100, 64, [0, 36])
    assert own[49] == 0 and own[50] == 1 and (own[:50] == 0).all() and (own[50:] == 1).all()
    assert T.owner(10, 4, [0, 3, 6]).tolist() == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]  # 3 and 6: ties, the first tile
    for bad in ("overlap", "overlap=-1", "size=3", "overlap=x"):
        with pytest.raises(T.TilingError):
            T.parse_tile(bad)
    assert T.parse_tile("overlap=8") == 8 and T.parse_tile(None) == 0
    with pytest.raises(T.TilingError, match="less than the tile"):
        T.plan(100, 100, (16, 16), 16)


@pytest.mark.parametrize("h,w,overlap", [(16, 24, 0), (37, 53, 0), (37, 53, 5), (100, 70, 7), (10, 12, 3)])
def test_tiles_of_a_map_stitch_back_without_a_seam(h, w, overlap):
    """Where the overlapping tiles agree (here: cut from one map) the stitched map is that map: no seam,
    any size, a picture smaller than a tile included (padded, then cut)."""
    rng = np.random.default_rng(SEED)
    truth = rng.integers(0, 250, (1, h, w), dtype=np.uint8)
    t = T.plan(h, w, (16, 24), overlap)
    tiles = T.tiles(truth, t)
    assert tiles.shape == (t.count, 1, 16, 24)
    np.testing.assert_array_equal(T.stitch(tiles[:, 0], t), truth[0])


@pytest.fixture(scope="module")
def net_path(tmp_path_factory):
    net = randnet.random_unet(widths=(4, 8), num_classes=5, size=(16, 16), seed=SEED)
    return irmod.save(net, tmp_path_factory.mktemp("tiling") / "m")


def _infer(*args):
    r = subprocess.run([sys.executable, "-m", "unetaccel.cli", "infer", *map(str, args)], capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def _classes(png, k):
    back = {tuple(int(v) for v in c): i for i, c in enumerate(palette(k))}
    return np.array([[back[tuple(int(v) for v in px)] for px in row] for row in np.asarray(Image.open(png))])


def test_one_tile_equals_plain_inference_and_several_tiles_have_the_shape(net_path, tmp_path):
    print("seed", SEED)
    net = irmod.load(net_path)
    rng = np.random.default_rng(SEED)
    one = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(one).save(tmp_path / "one.png")
    code, out, err = _infer("--ir", net_path, "--image", tmp_path / "one.png", "--out", tmp_path / "one_c.png")
    assert code == 0, err
    assert "1 tile of 16x16" in out
    np.testing.assert_array_equal(_classes(tmp_path / "one_c.png", 5), irmod.reference.run(net, one[None]).classes[0])
    assert (tmp_path / "one_c_overlay.png").is_file()
    big = rng.integers(0, 256, (37, 45, 3), dtype=np.uint8)
    Image.fromarray(big).save(tmp_path / "big.png")
    code, out, err = _infer("--ir", net_path, "--image", tmp_path / "big.png", "--out", tmp_path / "big_c.png",
                            "--tile", "overlap=4")
    assert code == 0, err
    got = _classes(tmp_path / "big_c.png", 5)
    assert got.shape == (37, 45) and np.asarray(Image.open(tmp_path / "big_c_overlay.png")).shape == (37, 45, 3)
    # the same stitching computed here from the reference on the tiles
    t = T.plan(37, 45, (16, 16), 4)
    np.testing.assert_array_equal(got, T.stitch(irmod.reference.run(net, T.tiles(big.transpose(2, 0, 1), t)).classes, t))
    # smaller than a tile: padded with zeros, never stretched
    small = big[:10, :12]
    Image.fromarray(small).save(tmp_path / "small.png")
    code, out, err = _infer("--ir", net_path, "--image", tmp_path / "small.png", "--out", tmp_path / "s.png")
    assert code == 0, err
    pad = np.zeros((16, 16, 3), np.uint8)
    pad[:10, :12] = small
    np.testing.assert_array_equal(_classes(tmp_path / "s.png", 5), irmod.reference.run(net, pad[None]).classes[0][:10, :12])
    code, _, err = _infer("--ir", net_path, "--image", tmp_path / "small.png", "--out", tmp_path / "r.png", "--resize")
    assert code == 0 and _classes(tmp_path / "r.png", 5).shape == (16, 16), err
    code, _, err = _infer("--ir", net_path, "--image", tmp_path / "big.png", "--out", tmp_path / "x.png",
                          "--tile", "overlap=16")
    assert code == 2 and "overlap 16" in err


@pytest.mark.parametrize("hw", ["csim", "rtl"])
def test_tiled_inference_on_hardware_equals_the_reference(net_path, tmp_path, hw):
    """Every tile of a picture that is no multiple of the tile through the C simulation or the RTL:
    each equals the reference (mismatches: 0), so the stitched maps are the same."""
    rng = np.random.default_rng(SEED + 1)
    pic = rng.integers(0, 256, (21, 30, 3), dtype=np.uint8)
    Image.fromarray(pic).save(tmp_path / "p.png")
    code, out, err = _infer("--ir", net_path, "--image", tmp_path / "p.png", "--out", tmp_path / "ref.png",
                            "--tile", "overlap=3")
    assert code == 0, err
    code, out, err = _infer("--ir", net_path, "--image", tmp_path / "p.png", "--out", tmp_path / f"{hw}.png",
                            "--tile", "overlap=3", "--hw", hw, "--build", tmp_path / "build")
    assert code == 0 and out.strip().splitlines()[-1] == "mismatches: 0", out + err
    assert "6 tiles of 16x16" in out  # rows at 0, 5; columns at 0, 13, 14
    np.testing.assert_array_equal(_classes(tmp_path / f"{hw}.png", 5), _classes(tmp_path / "ref.png", 5))
