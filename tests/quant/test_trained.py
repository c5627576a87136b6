"""The trained default network: Brevitas (float64) == NumPy reference on 16 validation images,
at every IR tensor; accuracy of W5A8 against float."""
import json

import numpy as np
import torch

from unetaccel import ir as irmod
from unetaccel.ir.data import load_val
from unetaccel.model.train import load_checkpoint
from unetaccel.quant.job import compare
from unetaccel.quant.qmodel import QuantUNet


def load_quant(run):
    model, _ = load_checkpoint(run / "float.pt")
    ck = torch.load(run / "quant.pt", weights_only=False)
    q = QuantUNet(model.config, ck["weight_bits"], ck["act_bits"])
    q.load_state_dict(ck["state_dict"])
    return q.eval()


def test_trained_default_network_is_exact_on_16_val_images(trained_run):
    net = irmod.load(trained_run / "model.json")
    assert net.size == (64, 64) and net.num_classes == 21
    imgs, labels = load_val(trained_run / "model.json", net)
    assert len(imgs) >= 16
    q = load_quant(trained_run)
    mism, rows = compare(q, net, imgs[:16])
    assert mism == 0, [r for r in rows if r["mismatches"]]
    assert sum(r["values"] for r in rows) > 16 * 64 * 64 * 21
    # the comparison covers every IR tensor, accumulators included
    assert {r["tensor"] for r in rows} == {net.input} | {lay.output for lay in net.layers}


def test_quant_metrics_are_recorded(trained_run):
    m = json.loads((trained_run / "quant_metrics.json").read_text())
    assert m["exactness"]["mismatches"] == 0
    for k in ("float", "ptq", "w5a8"):
        assert 0.0 <= m[k]["mean_iou"] <= 1.0
    print("float mIoU %.4f, W5A8 mIoU %.4f" % (m["float"]["mean_iou"], m["w5a8"]["mean_iou"]))
    # the briefly-trained test network learned something beyond chance
    assert m["float"]["pixel_accuracy"] > 0.5
    net = irmod.load(trained_run / "model.json")
    pred = irmod.reference.run(net, load_val(trained_run / "model.json", net)[0]).classes
    assert len(np.unique(pred)) > 1
