"""A run over the corrupt data set: every unreadable image is skipped, counted per epoch and
listed in bad_images.txt (missing ones once, from the list check); strict mode stops at the first."""

from __future__ import annotations

import pytest
import yaml

from torchclas.configure import load_config
from torchclas.data.datasets import BadImageError
from torchclas.engine import train
from torchclas.engine.bad_images import BadImageLog
from torchclas.testing.corrupt_images import CLASS_NUM, LIST_FILE, write_corrupt_dataset
from torchclas.testing.tiny import tiny_config_dict


def _config(tmp_path, root, **globals_):
    cfg = tiny_config_dict(root, tmp_path / "out", epochs=2)
    for split in ("Train", "Eval"):
        cfg["DataLoader"][split]["dataset"]["cls_label_path"] = str(root / LIST_FILE)
        cfg["DataLoader"][split]["sampler"]["batch_size"] = 16  # one batch: every readable image trains
    cfg["Arch"]["class_num"] = CLASS_NUM
    cfg["Infer"]["PostProcess"]["class_id_map_file"] = None
    cfg["Global"].update(globals_)
    path = tmp_path / "corrupt.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_bad_images_are_skipped_counted_and_listed(tmp_path):
    cases = write_corrupt_dataset(tmp_path / "data")
    skipped = {str(c.path) for c in cases if c.outcome == "skipped"}
    missing = [c for c in cases if c.outcome == "missing"]
    result = train(load_config(_config(tmp_path, tmp_path / "data")))
    assert result["train"]["bad_images"] == len(skipped)
    assert result["train"]["num_images"] == sum(c.outcome == "decodes" for c in cases)
    rows = BadImageLog(tmp_path / "out" / "PPLCNet_x0_25" / "bad_images.txt").read()
    assert [(e, p) for e, p, _ in rows if e == 0] == [(0, str(missing[0].path))]
    assert f"list line {missing[0].line}" in rows[0][2]
    for epoch in (1, 2):
        assert {p for e, p, _ in rows if e == epoch} == skipped
    reasons = {p: r for e, p, r in rows if e == 1}
    for case in cases:
        if case.outcome == "skipped":
            assert case.reason in reasons[str(case.path)]

    # resuming from epoch 1 rewrites epoch 2's lines once, and keeps the missing-file line once
    train(load_config(_config(tmp_path, tmp_path / "data"),
                      [f"Global.checkpoints={tmp_path / 'out' / 'PPLCNet_x0_25' / 'epoch_1'}"]))
    again = BadImageLog(tmp_path / "out" / "PPLCNet_x0_25" / "bad_images.txt").read()
    assert sorted(again) == sorted(rows)


def test_strict_mode_stops_at_the_first_bad_image(tmp_path):
    cases = write_corrupt_dataset(tmp_path / "data")
    first_missing = next(c for c in cases if c.outcome == "missing")
    with pytest.raises(BadImageError, match=str(first_missing.path)):
        train(load_config(_config(tmp_path, tmp_path / "data", strict_data=True)))
    assert not (tmp_path / "out" / "PPLCNet_x0_25" / "latest.safetensors").exists()


def test_a_batch_left_with_one_image_is_skipped_for_batchnorm(tmp_path, tiny_data, caplog):
    cfg = tiny_config_dict(tiny_data, tmp_path / "out", epochs=1)
    cfg["DataLoader"]["Train"]["sampler"]["batch_size"] = 47  # 48 images: the second batch has one
    path = tmp_path / "one.yaml"
    path.write_text(yaml.safe_dump(cfg))
    result = train(load_config(path))
    assert result["train"]["num_images"] == 47
    assert "only 1 readable image(s), skipped (BatchNorm needs 2 in training)" in caplog.text
