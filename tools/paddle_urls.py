"""Generate ``torchclas/models/io/paddle_urls.json``, the official PaddleClas weights table, from
PaddleClas's own source.

PaddleClas keeps one ``MODEL_URLS = {name: url}`` dict per backbone file
(``ppcls/arch/backbone/legendary_models/*.py`` and ``model_zoo/*.py``); ``pretrained: True`` loads
``MODEL_URLS[name]``. With ``use_ssld: True`` it loads the URL rewritten by
``ppcls/utils/save_load.py::_set_ssld_pretrained``: ``_pretrained`` -> ``_ssld_pretrained`` unless
the URL already names SSLD weights. That rewrite works for any name, but the files exist only for
the models PaddleClas distilled with SSLD; the table lists an ``ssld`` URL for those: the URLs that
already are SSLD, the models PaddleClas's own configs load with ``use_ssld: True``, and the SSLD
models of PaddleClas's model list (``SSLD_DOCUMENTED`` below).

    python tools/paddle_urls.py [--paddleclas /work/paddleclas] [--check]

``--check`` exits 1 when the packaged table differs from what the source gives.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

import yaml

from torchclas.models.io.pretrained import ssld_url

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
OUT = Path(__file__).resolve().parents[1] / "torchclas" / "models" / "io" / "paddle_urls.json"
# The `*_ssld` rows of PaddleClas's ImageNet-1k model list (docs/zh_CN/models/ImageNet1k/model_list.md).
SSLD_DOCUMENTED = (
    "ResNet34_vd", "ResNet50_vd", "ResNet101_vd", "Res2Net50_vd_26w_4s", "Res2Net101_vd_26w_4s",
    "Res2Net200_vd_26w_4s", "HRNet_W18_C", "HRNet_W48_C", "SE_HRNet_W64_C", "MobileNetV1", "MobileNetV2",
    "MobileNetV3_large_x1_0", "MobileNetV3_small_x1_0", "MobileNetV3_small_x0_35", "GhostNet_x1_3",
    "PPLCNet_x0_5", "PPLCNet_x1_0", "PPLCNet_x2_5", "PPLCNetV2_base", "PPHGNet_tiny", "PPHGNet_small",
    "PPHGNet_base",
)


def model_urls(backbone: Path) -> dict[str, str]:
    """Every ``MODEL_URLS`` entry of the backbone files, by name (empty URLs left out)."""
    table: dict[str, str] = {}
    for path in sorted([*backbone.glob("legendary_models/*.py"), *backbone.glob("model_zoo/*.py")]):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "MODEL_URLS" for t in node.targets):
                for name, url in ast.literal_eval(node.value).items():
                    if name in table and table[name] != url:
                        raise SystemExit(f"{path}: {name} has two URLs: {table[name]} and {url}")
                    if url:
                        table[name] = url
    return table


def ssld_in_configs(configs: Path) -> set[str]:
    """Model names that PaddleClas's configs build with ``use_ssld: True`` (distillation teachers too)."""
    found: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            if node.get("use_ssld") is True and isinstance(node.get("name"), str):
                found.add(node["name"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted(configs.rglob("*.yaml")):
        try:
            walk(yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER))
        except yaml.YAMLError:
            continue
    return found


def build_table(paddleclas: Path) -> dict[str, dict[str, str]]:
    """``{name: {"url": ..., "ssld": ...}}`` sorted by name; ``ssld`` only where the file exists."""
    ppcls = paddleclas / "ppcls"
    urls = model_urls(ppcls / "arch" / "backbone")
    with_ssld = (ssld_in_configs(ppcls / "configs") | set(SSLD_DOCUMENTED)) & set(urls)
    table = {}
    for name in sorted(urls):
        row = {"url": urls[name]}
        if name in with_ssld or "ssld" in urls[name]:
            row["ssld"] = ssld_url(urls[name])
        table[name] = row
    files = [row["url"].rsplit("/", 1)[-1] for row in table.values()]
    clashes = {f for f in files if files.count(f) > 1}
    if clashes:  # the download cache is keyed by file name, as PaddleClas's is
        raise SystemExit(f"two URLs share a file name: {sorted(clashes)}")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paddleclas", type=Path, default=Path("/work/paddleclas"))
    parser.add_argument("--check", action="store_true", help="compare with the packaged table; write nothing")
    args = parser.parse_args(argv)
    table = build_table(args.paddleclas)
    rows = ",\n".join(f" {json.dumps(name)}: {json.dumps(row)}" for name, row in table.items())
    text = "{\n" + rows + "\n}\n"  # one model a line: diffs show which rows changed
    if args.check:
        same = OUT.is_file() and OUT.read_text(encoding="utf-8") == text
        print(f"{OUT}: {'up to date' if same else 'differs from PaddleClas source'}")
        return 0 if same else 1
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}: {len(table)} models, {sum('ssld' in r for r in table.values())} with SSLD weights")
    return 0


if __name__ == "__main__":
    sys.exit(main())
