"""layout.place, the RTL's activation placement: tensors live at the same step never share a word,
a step's output never overlaps its inputs, the logits and the class map survive to the end, and
the depth meets the lower bound on the default network. With the argmax fused into the logits
conv (layout.fused_argmax) the class map is written in the conv's step and shares the logits'
words (a run writes one or the other; the argmax step alone works in place)."""
import numpy as np
import pytest

from unetaccel.codegen.layout import SUPPORTED_LANES, fused_argmax, groups, lifetimes, place, place_bound, plan
from unetaccel.codegen.rtl_project import layout
from unetaccel.ir import randnet

SEED = 11


def _words(A):
    return lambda shape: groups(shape[0], A) * int(np.prod(shape[1:]))


def _live_together(a, b) -> bool:
    return a[0] <= b[1] and b[0] <= a[1]


def _random_nets():
    rng = np.random.default_rng(SEED)
    print("seed", SEED)
    for n in range(8):
        levels = int(rng.integers(1, 5))
        widths = tuple(int(v) for v in np.sort(rng.integers(1, 40, levels)))
        size = tuple(int(v) << (levels - 1) for v in rng.integers(1, 4, 2))
        yield randnet.random_unet(widths=widths, num_classes=int(rng.integers(2, 30)), size=size,
                                  in_channels=int(rng.integers(1, 5)), seed=int(rng.integers(1 << 30)),
                                  residual=bool(n % 2))


@pytest.mark.parametrize("A", SUPPORTED_LANES)
def test_live_tensors_never_share_a_word(A):
    """On random networks (widths, sizes, input channels, residual or not): every tensor gets
    a range inside the depth; two tensors whose lifetimes overlap are disjoint, so no step's
    output overlaps one of its inputs (but the fused argmax's, in place); the logits and the class
    map live past the last step, the class map from the logits conv's step, in the logits' words."""
    for net in _random_nets():
        steps = plan(net)
        words = _words(A)
        base, depth = place(net, steps, words)
        life = lifetimes(net, steps)
        head = fused_argmax(net, steps)
        assert head == len(steps) - 2 and steps[head].output == net.logits
        assert set(base) == {net.input} | {s.output for s in steps}
        assert life[net.logits][1] == life[net.classes][1] == len(steps)
        assert life[net.classes][0] == life[net.logits][0] == head
        rng = {t: (base[t], base[t] + words(net.tensors[t].shape)) for t in base}
        assert all(0 <= lo < hi <= depth for lo, hi in rng.values())
        assert rng[net.logits][0] == rng[net.classes][0] and rng[net.classes][1] <= rng[net.logits][1]
        for s in steps[:head + 1]:
            out = rng[s.output]
            for t in s.inputs:
                assert out[1] <= rng[t][0] or rng[t][1] <= out[0], (net.name, A, s.name, t)
        names = list(base)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                if _live_together(life[a], life[b]) and {a, b} != {net.logits, net.classes}:
                    assert rng[a][1] <= rng[b][0] or rng[b][1] <= rng[a][0], (A, a, b, rng[a], rng[b])
        bound = place_bound(net, steps, words)
        assert bound <= depth <= 1.25 * bound, (A, depth, bound)
        assert place(net, steps, words) == (base, depth)  # deterministic


def test_bound_is_the_largest_live_sum():
    """place_bound, checked against the default network's peak at 8-channel words: at the head
    conv its input (8 channels at 64x64) and the logits, whose words the class map shares (the
    fused argmax writes it in that step): 4,096 + 3 x 4,096 = 16,384 words."""
    net = randnet.random_unet(seed=0)
    steps = plan(net)
    A = 8
    words = _words(A)
    head_in = steps[-2].inputs[0]
    at_head = words(net.tensors[head_in].shape) + words(net.tensors[net.logits].shape)
    assert place_bound(net, steps, words) == at_head == 16384


@pytest.mark.parametrize("lanes", [(4, 4), (8, 8), (16, 16), (4, 16), (2, 2), (32, 32)])
def test_default_network_meets_the_bound(lanes):
    """The RTL's activation depth for the default network is the lower bound at every lane
    shape (today's allocator-based layout took 32,256 words at 8x8 for a bound of 16,384)."""
    net = randnet.random_unet(seed=0)
    steps, base, depth = layout(net, lanes)
    bound = place_bound(net, steps, _words(max(lanes)))
    print(f"{lanes[0]}x{lanes[1]}: act depth {depth} words, bound {bound}")
    assert depth == bound
    assert base[net.classes] == base[net.logits]  # the fused argmax's class map in the logits' words
    if lanes == (8, 8):
        assert depth == 16384
