"""The float UNet: the original design's parameter count and the real MAC count."""
import pytest
import torch

from unetaccel.model import UNet, UNetConfig, count_macs, count_parameters, total_macs


def test_default_network_has_486613_parameters():
    assert count_parameters(UNet(3, 21)) == 486_613


def test_default_network_macs():
    m = UNet()
    assert total_macs(m) == 48_496_640
    rows = count_macs(m)
    convt = [r for r in rows if r.kind == "conv_transpose2d"]
    # k2 s2: Cin * Cout * 4 per input pixel (not per output pixel)
    assert convt[0].macs == 4 * 4 * 128 * 64 * 4


@pytest.mark.parametrize("widths,classes,size", [((4, 8, 16), 5, (32, 48)), ((8, 16), 2, (16, 8))])
def test_configurable_and_non_square(widths, classes, size):
    seed = 4
    print("seed", seed)
    torch.manual_seed(seed)
    m = UNet(3, classes, widths, size)
    y = m(torch.rand(2, 3, *size))
    assert y.shape == (2, classes, *size)
    assert m.config.levels == len(widths) - 1


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="multiples of 2\\^levels = 16"):
        UNet(size=(60, 64))
    with pytest.raises(ValueError, match="widths"):
        UNetConfig(widths=(8,))


def test_config_round_trip():
    c = UNetConfig(3, 5, (4, 8, 16), (32, 48))
    assert UNetConfig.from_dict(c.to_dict()) == c
