"""Accuracy-aware INT8: keep the blocks that quantise worst in fp32 until top-1 agrees with fp32.

Static INT8 of a small net with wide activations (MobileNetV3's hardswish and SE gates,
PP-LCNet) flips predictions whose fp32 margin is thin; the error is spread over many
tensors, so no single op is to blame. Like NNCF's accuracy control (on its validation images)
and PaddleSlim's, the fallback checks on images of its own, never on the eval list, which is
left for the report:

1. the graph's nodes are grouped into *blocks* by the module path in their names
   (``/blocks/blocks.4/blocks.4.1/se/Mul`` -> ``/blocks/blocks.4/blocks.4.1``);
2. when the fully quantised model's top-1 agrees with fp32 on fewer than ``target`` % of the
   check images (the calibration images, or a held-out folder's), each block is ranked by how
   much the logit error (mean squared, to fp32, on the calibration images) shrinks when that
   block alone stays fp32;
3. blocks are put back to fp32 in that order until the agreement reaches ``target`` or
   ``max_blocks`` of them (default a quarter) are fp32.

A block left in fp32 is not quantised (onnxruntime: ``nodes_to_exclude``; NNCF: ``IgnoredScope``,
and for the ranking trials its nodes' quantisers bypassed in the quantised graph,
:func:`keep_float`): its inside runs in float, the tensors at its borders stay quantised by
their neighbours.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Callable

import numpy as np
import onnx

__all__ = ["name_unnamed_nodes", "block_of", "node_blocks", "keep_float", "top1_agreement_with", "logit_error_to",
           "choose_float_blocks"]

log = logging.getLogger("torchclas")

_NUMBERED = re.compile(r"\.\d+$")


def name_unnamed_nodes(model: onnx.ModelProto) -> int:
    """Give every unnamed node (e.g. an inlined HardSwish's HardSigmoid/Mul) a name in its module's scope.

    The scope is that of the node's output, else of the first consumer's output; onnxruntime
    can only exclude named nodes. Returns how many nodes were named.

    Example:
        >>> name_unnamed_nodes(onnx.load("m.prep.onnx"))  # doctest: +SKIP
        42
    """
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in model.graph.node:
        for tensor in node.input:
            consumers.setdefault(tensor, []).append(node)
    taken = {node.name for node in model.graph.node}
    named = 0
    for i, node in enumerate(model.graph.node):
        if node.name:
            continue
        scopes = [t for t in node.output if t.startswith("/")]
        scopes += [t for c in consumers.get(node.output[0], []) for t in c.output if t.startswith("/")]
        scope = scopes[0].rsplit("/", 1)[0] if scopes else ""
        name = f"{scope}/{node.op_type}_{i}"
        while name in taken:
            name += "_"
        node.name, named = name, named + 1
        taken.add(name)
    return named


def block_of(node_name: str) -> str:
    """The block a node belongs to: its module path up to the deepest numbered part, else the first.

    Example:
        >>> block_of("/blocks/blocks.4/blocks.4.1/se/conv_reduce/Conv")
        '/blocks/blocks.4/blocks.4.1'
        >>> block_of("/conv_stem/Conv")
        '/conv_stem'
    """
    parts = [p for p in node_name.split("/") if p][:-1]  # the last part names the op
    if not parts:
        return node_name
    numbered = [i for i, part in enumerate(parts) if _NUMBERED.search(part)]
    return "/" + "/".join(parts[:numbered[-1] + 1] if numbered else parts[:1])


def node_blocks(model: onnx.ModelProto) -> dict[str, list[str]]:
    """The graph's node names by block (:func:`block_of`), in graph order.

    Example:
        >>> list(node_blocks(onnx.load("m.prep.onnx")))[:2]  # doctest: +SKIP
        ['/conv_stem', '/bn1']
    """
    blocks: dict[str, list[str]] = {}
    for node in model.graph.node:
        if node.op_type not in ("Constant", "Identity"):
            blocks.setdefault(block_of(node.name), []).append(node.name)
    return blocks


def keep_float(quantized: onnx.ModelProto, original: onnx.ModelProto, names: list[str]) -> onnx.ModelProto:
    """A copy of the QDQ graph ``quantized`` whose nodes ``names`` read their inputs as they do
    in ``original``: their quantize/dequantize pairs bypassed and their own fp32 weights and
    biases back (any correction the quantiser made to them undone). Tensors a block shares with
    quantised neighbours stay quantised for those; nodes and initializers left unused are dropped.

    Lets the fallback try a block in fp32 by editing one quantised graph instead of quantising
    again (NNCF takes 2-3 s a call on PPLCNet_x1_0, most of it matching its graph patterns).

    Raises:
        ValueError when none of ``names`` is a node of both graphs (the quantiser renamed them).

    Example:
        >>> keep_float(int8, fp32, ["/conv_head/Conv"])  # doctest: +SKIP
    """
    out = onnx.ModelProto()
    out.CopyFrom(quantized)
    before = {node.name: node for node in original.graph.node}
    # a node the quantiser folded away (a BatchNorm into its conv) has nothing to keep in fp32
    wanted = set(names) & before.keys() & {node.name for node in out.graph.node}
    if names and not wanted:
        raise ValueError(f"none of the nodes to keep in fp32 is in both graphs: {sorted(names)[:5]}")
    restored: set[str] = set()
    for node in out.graph.node:
        if node.name in wanted:
            del node.input[:]
            node.input.extend(before[node.name].input)
            restored.update(before[node.name].input)
    used_elsewhere = {t for node in out.graph.node if node.name not in wanted for t in node.input}
    weights = {init.name: init for init in original.graph.initializer if init.name in restored - used_elsewhere}
    kept = [init for init in out.graph.initializer if init.name not in weights]
    del out.graph.initializer[:]
    out.graph.initializer.extend(kept + list(weights.values()))
    _drop_unused(out.graph)
    return out


def _drop_unused(graph: onnx.GraphProto) -> None:
    """Remove nodes none of whose outputs is read (graph outputs count as read), then the
    initializers nothing reads."""
    outputs = {o.name for o in graph.output}
    while True:
        read = outputs | {t for node in graph.node for t in node.input}
        dead = [node for node in graph.node if not any(o in read for o in node.output)]
        if not dead:
            break
        for node in dead:
            graph.node.remove(node)
    read = {t for node in graph.node for t in node.input}
    unused = [init for init in graph.initializer if init.name not in read]
    for init in unused:
        graph.initializer.remove(init)


def top1_agreement_with(reference: np.ndarray) -> Callable[[np.ndarray], float]:
    """A function giving the % of rows whose argmax agrees with ``reference``'s.

    Example:
        >>> agree = top1_agreement_with(np.array([[0.0, 1.0], [1.0, 0.0]]))
        >>> agree(np.array([[0.0, 2.0], [0.0, 2.0]]))
        50.0
    """
    expected = reference.argmax(1)
    return lambda logits: 100.0 * float((logits.argmax(1) == expected).mean())


def logit_error_to(reference: np.ndarray) -> Callable[[np.ndarray], float]:
    """A function giving the mean squared difference of logits from ``reference``'s.

    Example:
        >>> logit_error_to(np.zeros((2, 2)))(np.ones((2, 2)))
        1.0
    """
    return lambda logits: float(np.mean((logits - reference) ** 2))


def choose_float_blocks(blocks: dict[str, list[str]], quantize: Callable[[list[str]], Path],
                        error: Callable[[Path], float], agreement: Callable[[Path], float], target: float,
                        max_blocks: int | None = None) -> tuple[list[str], float]:
    """The blocks to keep in fp32 so that a model file's ``agreement`` reaches ``target``.

    Blocks are ranked by how much ``error`` shrinks when each alone stays fp32; ``agreement``
    is checked after each block put back, so it may run on more images than ``error`` (a top-1
    count on 256 images moves in steps of 0.4 %, the size of the gap to a 99 % target).

    Args:
        blocks: :func:`node_blocks` of the model to quantise.
        quantize: writes the INT8 model with the given nodes left in fp32, returns its path.
        error: a model file's logit error to fp32 (e.g. :func:`logit_error_to` on the calibration images).
        agreement: a model file's top-1 agreement (%) with fp32 on the images that decide.
        target: top-1 agreement (%) to reach.
        max_blocks: keep at most this many blocks in fp32 (None: a quarter of them, rounded up;
            past that the model is no longer an INT8 model and ``--max-drop`` should decide).

    Returns:
        The fp32 blocks (most sensitive first; empty when full INT8 reaches ``target``) and
        the agreement reached.

    Example:
        >>> choose_float_blocks(blocks, quantize, error, agreement, 99.0)  # doctest: +SKIP
        (['/conv_head', '/blocks/blocks.4/blocks.4.1'], 99.2)
    """
    full = quantize([])
    reached = agreement(full)
    if reached >= target:
        return [], reached
    base = error(full)
    gain = {name: base - error(quantize(nodes)) for name, nodes in blocks.items()}
    ranked = sorted(gain, key=gain.get, reverse=True)
    limit = -(-len(ranked) // 4) if max_blocks is None else min(max_blocks, len(ranked))
    chosen: list[str] = []
    for name in ranked[:limit]:
        chosen.append(name)
        reached = agreement(quantize([n for b in chosen for n in blocks[b]]))
        log.info("int8 fallback: %d block(s) in fp32 (last %s): top-1 agrees on %.2f%% of the check images",
                 len(chosen), name, reached)
        if reached >= target:
            break
    return chosen, reached
