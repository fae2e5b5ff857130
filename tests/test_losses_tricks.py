"""FocalLoss, OHEMCELoss, class weights (lists and ``auto`` from counts) against hand formulas."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from torchclas.config import ConfigError
from torchclas.configure import config_from_dict
from torchclas.losses import (LOSSES, CELoss, FocalLoss, MixCELoss, OHEMCELoss, build_loss,
                              class_weights_from_counts)

torch.manual_seed(0)
LOGITS = torch.randn(10, 4) * 2
LABELS = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3, 0, 0])
SOFT = torch.softmax(torch.randn(10, 4), -1)


def hand_focal(logits, target_rows, gamma, alpha):
    p = torch.softmax(logits.double(), -1)
    alpha = torch.as_tensor(alpha, dtype=torch.float64)
    return (-(alpha * target_rows.double() * (1 - p) ** gamma * p.log()).sum(-1)).mean().item()


# ------------------------------------------------------------------ FocalLoss

def test_focal_with_gamma_0_is_cross_entropy():
    assert FocalLoss(gamma=0)(LOGITS, LABELS).item() == pytest.approx(F.cross_entropy(LOGITS, LABELS).item(),
                                                                      rel=1e-6)
    soft_ce = -(SOFT * F.log_softmax(LOGITS, -1)).sum(-1).mean()
    assert FocalLoss(gamma=0)(LOGITS, SOFT).item() == pytest.approx(soft_ce.item(), rel=1e-6)


@pytest.mark.parametrize("gamma, alpha", [(2.0, 1.0), (0.5, 0.25), (2.0, [0.1, 0.2, 0.3, 0.4]), (1.0, [1, 0, 2, 1])])
def test_focal_matches_formula_hard_and_soft(gamma, alpha):
    one_hot = F.one_hot(LABELS, 4).float()
    assert FocalLoss(gamma=gamma, alpha=alpha)(LOGITS, LABELS).item() == pytest.approx(
        hand_focal(LOGITS, one_hot, gamma, alpha), rel=1e-5)
    assert FocalLoss(gamma=gamma, alpha=alpha)(LOGITS, SOFT).item() == pytest.approx(
        hand_focal(LOGITS, SOFT, gamma, alpha), rel=1e-5)


def test_focal_down_weights_easy_samples_and_keeps_finite_gradients():
    easy = torch.tensor([[30.0, 0.0], [0.0, 0.0]], requires_grad=True)  # p = 1 exactly for sample 0
    loss = FocalLoss(gamma=0.5)(easy, torch.tensor([0, 0]))
    loss.backward()
    assert torch.isfinite(easy.grad).all()
    assert loss.item() == pytest.approx(0.5 * 0.5 ** 0.5 * math.log(2), rel=1e-5)


def test_focal_alpha_length_and_value_errors():
    with pytest.raises(ValueError, match=r"FocalLoss.alpha has 3 values but the model predicts 4 classes"):
        FocalLoss(alpha=[1.0, 1.0, 1.0])(LOGITS, LABELS)
    with pytest.raises(ValueError, match="FocalLoss.gamma"):
        FocalLoss(gamma=-1)
    with pytest.raises(ValueError, match="FocalLoss.alpha"):
        FocalLoss(alpha="auto")


# ------------------------------------------------------------------ OHEM

@pytest.mark.parametrize("keep_ratio, min_kept, kept", [(0.7, 1, 7), (0.25, 1, 3), (0.1, 4, 4), (1.0, 1, 10)])
def test_ohem_keeps_exactly_the_hardest_fraction(keep_ratio, min_kept, kept):
    per_sample = F.cross_entropy(LOGITS, LABELS, reduction="none")
    hardest = per_sample.sort(descending=True).values[:kept]
    loss = OHEMCELoss(keep_ratio=keep_ratio, min_kept=min_kept)
    assert loss.num_kept(10) == kept
    assert loss(LOGITS, LABELS).item() == pytest.approx(hardest.mean().item(), rel=1e-6)


def test_ohem_with_class_weights_ranks_by_plain_loss_and_weights_the_mean():
    weights = torch.tensor([0.5, 1.0, 2.0, 4.0])
    per_sample = F.cross_entropy(LOGITS, LABELS, reduction="none")
    kept = per_sample.topk(5).indices
    expected = (weights[LABELS[kept]] * per_sample[kept]).sum() / weights[LABELS[kept]].sum()
    loss = OHEMCELoss(keep_ratio=0.5, class_weights=weights.tolist())(LOGITS, LABELS)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)


def test_ohem_rejects_bad_keys():
    with pytest.raises(ValueError, match=r"OHEMCELoss.keep_ratio must be in \(0, 1\]"):
        OHEMCELoss(keep_ratio=0)
    with pytest.raises(ValueError, match="OHEMCELoss.min_kept"):
        OHEMCELoss(min_kept=0)


# ------------------------------------------------------------------ class weights

def test_class_weights_list_equals_pytorch_weighted_mean():
    weights = [0.5, 1.0, 2.0, 4.0]
    expected = F.cross_entropy(LOGITS, LABELS, weight=torch.tensor(weights))
    assert CELoss(class_weights=weights)(LOGITS, LABELS).item() == pytest.approx(expected.item(), rel=1e-6)
    # soft one-hot rows give the same number
    one_hot = F.one_hot(LABELS, 4).float()
    assert CELoss(class_weights=weights)(LOGITS, one_hot).item() == pytest.approx(expected.item(), rel=1e-6)


def test_class_weights_with_smoothing_and_soft_targets_follow_documented_reduction():
    w = torch.tensor([0.5, 1.0, 2.0, 4.0])
    rows = SOFT * 0.9 + 0.1 / 4
    expected = (-(rows * w * F.log_softmax(LOGITS, -1)).sum(-1)).sum() / (rows * w).sum()
    assert CELoss(epsilon=0.1, class_weights=w.tolist())(LOGITS, SOFT).item() == pytest.approx(
        expected.item(), rel=1e-6)


def test_class_weights_from_counts_is_normalised_inverse_frequency():
    counts = [90, 9, 1]
    weights = class_weights_from_counts(counts)
    inv = [1 / 90, 1 / 9, 1]
    assert weights == pytest.approx([3 * v / sum(inv) for v in inv])
    assert sum(weights) / 3 == pytest.approx(1.0)
    assert weights[0] * 90 == pytest.approx(weights[2] * 1)  # every class carries the same total weight
    assert class_weights_from_counts([5, 5, 5, 5]) == pytest.approx([1, 1, 1, 1])
    assert class_weights_from_counts([4, 0, 1]) == pytest.approx([0.4, 0.0, 1.6])  # absent class: 0
    with pytest.raises(ValueError, match="all 0"):
        class_weights_from_counts([0, 0])


def test_auto_class_weights_from_counts_through_build_loss():
    loss = build_loss([{"CELoss": {"class_weights": "auto"}}], class_counts=[40, 30, 20, 10])
    expected = F.cross_entropy(LOGITS, LABELS, weight=torch.tensor(class_weights_from_counts([40, 30, 20, 10])))
    assert loss(LOGITS, LABELS)["loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    focal = build_loss([{"FocalLoss": {"gamma": 0, "class_weights": "auto"}}], class_counts=[40, 30, 20, 10])
    assert focal(LOGITS, LABELS)["loss"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_auto_without_counts_names_the_key():
    with pytest.raises(ConfigError, match=r"Loss.Train\[1\].OHEMCELoss.class_weights: 'auto' needs the "
                                          r"training set's label counts"):
        build_loss([{"CELoss": {}}, {"OHEMCELoss": {"class_weights": "auto"}}])
    with pytest.raises(ValueError, match="CELoss.class_weights: 'auto' needs"):
        CELoss(class_weights="auto")


def test_class_weights_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"Loss.Train\[0\]: CELoss.class_weights: weights must be"):
        build_loss([{"CELoss": {"class_weights": [1.0, -1.0]}}])
    with pytest.raises(ConfigError, match=r"Loss.Train\[0\]: FocalLoss.class_weights: expected 'auto' or"):
        build_loss([{"FocalLoss": {"class_weights": "balanced"}}])
    with pytest.raises(ValueError, match="CELoss.class_weights has 3 values but the model predicts 4"):
        CELoss(class_weights=[1.0, 2.0, 3.0])(LOGITS, LABELS)


# ------------------------------------------------------------------ names and sums

def test_mixceloss_is_celoss_on_mixed_targets():
    assert issubclass(LOSSES["MixCELoss"], CELoss)
    mixed = 0.3 * F.one_hot(LABELS, 4).float() + 0.7 * F.one_hot(LABELS.roll(1), 4).float()
    assert MixCELoss()(LOGITS, mixed).item() == pytest.approx(
        (0.3 * F.cross_entropy(LOGITS, LABELS) + 0.7 * F.cross_entropy(LOGITS, LABELS.roll(1))).item(), rel=1e-6)


def test_weighted_sum_of_two_losses_equals_weighted_parts():
    out = build_loss([{"CELoss": {"weight": 1.0}}, {"FocalLoss": {"weight": 0.5, "gamma": 2.0}}])(LOGITS, LABELS)
    ce = F.cross_entropy(LOGITS, LABELS).item()
    focal = hand_focal(LOGITS, F.one_hot(LABELS, 4).float(), 2.0, 1.0)
    assert out["CELoss"].item() == pytest.approx(ce, rel=1e-6)
    assert out["FocalLoss"].item() == pytest.approx(0.5 * focal, rel=1e-5)
    assert out["loss"].item() == pytest.approx(ce + 0.5 * focal, rel=1e-5)


def test_lone_focal_weight_is_honoured():
    single = build_loss([{"FocalLoss": {"weight": 3.0}}])(LOGITS, LABELS)
    assert single["loss"].item() == pytest.approx(3 * FocalLoss()(LOGITS, LABELS).item(), rel=1e-6)


def test_config_accepts_new_losses(tmp_path):
    from tests.conftest import tiny_config_dict

    raw = tiny_config_dict(tmp_path / "data", tmp_path / "out")
    raw["Loss"]["Train"] = [{"OHEMCELoss": {"weight": 1.0, "keep_ratio": 0.7, "class_weights": "auto"}},
                            {"FocalLoss": {"weight": 0.5, "gamma": 2.0, "alpha": 0.25}}]
    cfg = config_from_dict(raw)
    assert [next(iter(e)) for e in cfg.Loss.Train] == ["OHEMCELoss", "FocalLoss"]
    raw["Loss"]["Train"] = [{"FocalLoss": {"gama": 2.0}}]
    with pytest.raises(ConfigError, match=r"Loss.Train\[0\].FocalLoss: unknown parameter 'gama' "
                                          r"\(did you mean 'gamma'\?\)"):
        config_from_dict(raw)
