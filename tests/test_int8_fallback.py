"""Accuracy-aware INT8: node naming, blocks, and the choice of blocks kept in fp32."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from torchclas.export.int8_fallback import (block_of, choose_float_blocks, logit_error_to, name_unnamed_nodes,
                                            node_blocks, top1_agreement_with)


def test_block_of_cuts_at_the_deepest_numbered_module():
    assert block_of("/blocks/blocks.4/blocks.4.1/se/conv_reduce/Conv") == "/blocks/blocks.4/blocks.4.1"
    assert block_of("/stages/stages.2/blocks/blocks.0/conv1/Conv") == "/stages/stages.2/blocks/blocks.0"
    assert block_of("/conv_stem/Conv") == "/conv_stem"
    assert block_of("/head/fc/Gemm") == "/head"
    assert block_of("Conv_0") == "Conv_0"


def hardswish_graph() -> onnx.ModelProto:
    """conv -> (inlined hardswish: unnamed HardSigmoid, unnamed Mul) -> fc, as quant_pre_process leaves it."""
    nodes = [helper.make_node("Relu", ["x"], ["/stem/conv/Conv_output_0"], name="/stem/conv/Conv"),
             helper.make_node("HardSigmoid", ["/stem/conv/Conv_output_0"], ["_inlfunc_HardSwish_HS_X"]),
             helper.make_node("Mul", ["/stem/conv/Conv_output_0", "_inlfunc_HardSwish_HS_X"],
                              ["/blocks/blocks.0/act/HardSwish_output_0"]),
             helper.make_node("Relu", ["/blocks/blocks.0/act/HardSwish_output_0"], ["y"], name="/fc/Relu")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    return helper.make_model(graph)


def test_unnamed_nodes_get_their_modules_scope():
    model = hardswish_graph()
    assert name_unnamed_nodes(model) == 2
    names = [n.name for n in model.graph.node]
    assert names == ["/stem/conv/Conv", "/blocks/blocks.0/act/HardSigmoid_1", "/blocks/blocks.0/act/Mul_2", "/fc/Relu"]
    assert node_blocks(model) == {
        "/stem": ["/stem/conv/Conv"],
        "/blocks/blocks.0": ["/blocks/blocks.0/act/HardSigmoid_1", "/blocks/blocks.0/act/Mul_2"],
        "/fc": ["/fc/Relu"]}
    assert name_unnamed_nodes(model) == 0


class FakeQuantizer:
    """Logits = reference + noise from each quantised block (block 'b' is the noisy one)."""

    noise = {"a": 0.1, "b": 3.0, "c": 0.6}

    def __init__(self, blocks):
        self.blocks, self.calls = blocks, []
        rng = np.random.default_rng(0)
        self.reference = rng.standard_normal((2000, 4))
        self.flips = {name: rng.standard_normal((2000, 4)) for name in blocks}

    def quantize(self, exclude):
        self.calls.append(sorted(exclude))
        return Path("|".join(sorted(exclude)))

    def logits(self, path):
        excluded = {b for b, nodes in self.blocks.items() if set(nodes) <= set(str(path).split("|"))}
        return self.reference + sum(self.noise[b] * self.flips[b] for b in self.blocks if b not in excluded)

    def error(self, path):
        return logit_error_to(self.reference)(self.logits(path))

    def agreement(self, path):
        return top1_agreement_with(self.reference)(self.logits(path))

    def choose(self, target, max_blocks=None, agreement=None):
        return choose_float_blocks(self.blocks, self.quantize, self.error, agreement or self.agreement, target,
                                   max_blocks)


def test_agreement_and_error_measures():
    reference = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 3.0], [0.0, -1.0]])
    assert top1_agreement_with(reference)(reference + np.array([0.0, 5.0])) == 50.0  # rows 2 and 4 flip
    assert logit_error_to(reference)(reference + 2.0) == 4.0


def test_the_most_harmful_blocks_go_back_to_fp32_first_until_the_target():
    blocks = {"a": ["a1", "a2"], "b": ["b1"], "c": ["c1"]}
    fake = FakeQuantizer(blocks)
    chosen, agreement = fake.choose(target=70.0)
    assert chosen == ["b"] and agreement >= 70.0  # a and c alone flip fewer than 30% of the top-1s
    # full INT8, one trial per block, then the greedy steps
    assert fake.calls[:5] == [[], ["a1", "a2"], ["b1"], ["c1"], ["b1"]]
    everything, agreement = fake.choose(100.0, max_blocks=3)
    assert everything == ["b", "c", "a"] and agreement == 100.0
    quarter, _ = fake.choose(target=100.0)
    assert quarter == ["b"]  # by default at most a quarter of the blocks (rounded up) go back to fp32


def test_the_error_ranks_the_blocks_and_the_check_images_decide_when_to_stop():
    blocks = {"a": ["a1"], "b": ["b1"], "c": ["c1"]}
    fake = FakeQuantizer(blocks)
    # a check on other images: only with both b and c in fp32 does it reach the target
    strict = lambda path: 99.5 if {"b1", "c1"} <= set(str(path).split("|")) else 90.0  # noqa: E731
    chosen, agreement = fake.choose(99.0, max_blocks=3, agreement=strict)
    assert chosen == ["b", "c"] and agreement == 99.5  # ranked b, c, a by the error; stopped by the check


def test_no_fallback_when_int8_already_agrees_and_max_blocks_caps_it():
    blocks = {"a": ["a1"], "b": ["b1"], "c": ["c1"]}
    fake = FakeQuantizer(blocks)
    assert fake.choose(target=0.0) == ([], pytest.approx(
        100.0 * float((fake.logits(Path("")).argmax(1) == fake.reference.argmax(1)).mean())))
    assert fake.calls == [[]]
    chosen, agreement = fake.choose(100.0, max_blocks=1)
    assert chosen == ["b"] and agreement < 100.0
