"""CELoss and the weighted loss sum against hand formulas; TopkAcc counts; metrics.jsonl."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

from torchclas.config import ConfigError
from torchclas.engine.metrics_log import MetricsLog
from torchclas.metrics import METRICS, TopkAcc, topk_correct
from torchclas.losses import CELoss, CombinedLoss, build_loss

LOGITS = torch.tensor([[2.0, 0.5, -1.0, 0.0], [0.1, 0.2, 3.0, -2.0], [1.0, 1.0, 1.0, 1.5]])
LABELS = torch.tensor([0, 3, 1])


def hand_ce(logits: torch.Tensor, labels: torch.Tensor, epsilon: float) -> torch.Tensor:
    n_class = logits.shape[-1]
    target = torch.full_like(logits, epsilon / n_class)
    target[torch.arange(len(labels)), labels] += 1 - epsilon
    logp = logits - logits.exp().sum(-1, keepdim=True).log()
    return -(target * logp).sum(-1).mean()


@pytest.mark.parametrize("epsilon", [None, 0.0, 0.1, 0.5])
def test_celoss_hard_labels_match_hand_formula(epsilon):
    loss = CELoss(epsilon=epsilon)(LOGITS, LABELS)
    assert loss.item() == pytest.approx(hand_ce(LOGITS, LABELS, epsilon or 0.0).item(), rel=1e-6)


def test_celoss_without_smoothing_is_nll_of_the_label():
    loss = CELoss()(LOGITS, LABELS)
    logp = torch.log_softmax(LOGITS, -1)
    assert loss.item() == pytest.approx(-(logp[0, 0] + logp[1, 3] + logp[2, 1]).item() / 3, rel=1e-6)


def test_celoss_soft_targets_used_as_given():
    target = torch.tensor([[0.7, 0.3, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5], [0.25, 0.25, 0.25, 0.25]])
    loss = CELoss()(LOGITS, target)
    expected = -(target * F.log_softmax(LOGITS, -1)).sum(-1).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    # a softmax over the targets (PaddleClas' behaviour) would give a different number
    wrong = -(F.softmax(target, -1) * F.log_softmax(LOGITS, -1)).sum(-1).mean()
    assert abs(loss.item() - wrong.item()) > 1e-3


def test_celoss_soft_targets_with_epsilon_smooth_them():
    target = F.one_hot(LABELS, 4).float()
    assert CELoss(epsilon=0.2)(LOGITS, target).item() == pytest.approx(
        hand_ce(LOGITS, LABELS, 0.2).item(), rel=1e-6)


@pytest.mark.parametrize("epsilon", [-0.1, 1.0, 1.5])
def test_celoss_rejects_bad_epsilon(epsilon):
    with pytest.raises(ValueError, match=r"CELoss.epsilon must be in \[0, 1\)"):
        CELoss(epsilon=epsilon)


def test_celoss_half_precision_logits_computed_in_float():
    loss = CELoss(epsilon=0.1)(LOGITS.half(), LABELS)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(hand_ce(LOGITS.half().float(), LABELS, 0.1).item(), rel=1e-5)


def test_lone_loss_weight_is_honoured():
    plain = build_loss([{"CELoss": {"epsilon": 0.1}}])(LOGITS, LABELS)
    double = build_loss([{"CELoss": {"epsilon": 0.1, "weight": 2.0}}])(LOGITS, LABELS)
    assert double["loss"].item() == pytest.approx(2 * plain["loss"].item(), rel=1e-6)
    assert double["CELoss"].item() == pytest.approx(double["loss"].item())
    assert plain["loss"].item() == pytest.approx(hand_ce(LOGITS, LABELS, 0.1).item(), rel=1e-6)


def test_two_losses_sum_weighted():
    out = build_loss([{"CELoss": {"epsilon": 0.1, "weight": 0.5}}, {"CELoss": {"weight": 3.0}}])(LOGITS, LABELS)
    expected = 0.5 * hand_ce(LOGITS, LABELS, 0.1) + 3.0 * hand_ce(LOGITS, LABELS, 0.0)
    assert out["loss"].item() == pytest.approx(expected.item(), rel=1e-6)
    # both entries share a name: each part is reported (the second under CELoss_1) and summed
    assert set(out) == {"CELoss", "CELoss_1", "loss"}
    assert out["CELoss"].item() == pytest.approx(0.5 * hand_ce(LOGITS, LABELS, 0.1).item(), rel=1e-6)
    assert out["CELoss_1"].item() == pytest.approx(3.0 * hand_ce(LOGITS, LABELS, 0.0).item(), rel=1e-6)


def test_combined_loss_distinct_names_reports_each_part():
    loss = CombinedLoss([("a", CELoss(weight=1.0)), ("b", CELoss(epsilon=0.3, weight=0.25))])
    out = loss(LOGITS, LABELS)
    assert set(out) == {"a", "b", "loss"}
    assert out["a"].item() == pytest.approx(hand_ce(LOGITS, LABELS, 0).item(), rel=1e-6)
    assert out["b"].item() == pytest.approx(0.25 * hand_ce(LOGITS, LABELS, 0.3).item(), rel=1e-6)
    assert out["loss"].item() == pytest.approx(out["a"].item() + out["b"].item(), rel=1e-6)


def test_empty_loss_list_is_plain_celoss():
    for entries in (None, []):
        out = build_loss(entries)(LOGITS, LABELS)
        assert out["loss"].item() == pytest.approx(hand_ce(LOGITS, LABELS, 0.0).item(), rel=1e-6)


def test_loss_backward_gives_softmax_minus_target():
    logits = LOGITS.clone().requires_grad_(True)
    build_loss([{"CELoss": {"epsilon": 0.2}}])(logits, LABELS)["loss"].backward()
    target = torch.full_like(LOGITS, 0.2 / 4)
    target[torch.arange(3), LABELS] += 0.8
    assert torch.allclose(logits.grad, (F.softmax(LOGITS, -1) - target) / 3, atol=1e-6)


def test_unknown_loss_and_parameter_errors():
    with pytest.raises(ConfigError, match=r"Loss.Eval\[0\]: unknown name 'CrossEntropy'"):
        build_loss([{"CrossEntropy": {}}], where="Loss.Eval")
    with pytest.raises(ConfigError, match=r"Loss.Train\[1\].CELoss: unknown parameter 'eps'"):
        build_loss([{"CELoss": {}}, {"CELoss": {"eps": 0.1}}])
    with pytest.raises(ConfigError, match="'DMLLoss' is a PaddleClas name not implemented"):
        build_loss([{"DMLLoss": {}}])


# ------------------------------------------------------------------ metrics

def test_topk_correct_known_example():
    logits = torch.tensor([[0.1, 0.5, 0.3, 0.05, 0.05],   # label 2 is 2nd
                           [0.9, 0.02, 0.03, 0.04, 0.01],  # label 0 is 1st
                           [0.1, 0.2, 0.3, 0.4, 0.0],      # label 4 is last (5th)
                           [0.3, 0.1, 0.2, 0.25, 0.15]])   # label 2 is 3rd
    labels = torch.tensor([2, 0, 4, 2])
    assert topk_correct(logits, labels, (1, 2, 3, 5)) == {1: 1, 2: 2, 3: 3, 5: 4}


def test_topk_acc_accumulates_over_batches_and_k_beyond_classes():
    metric = TopkAcc(topk=[1, 2, 5])
    metric.update(torch.tensor([[0.2, 0.7, 0.1], [0.6, 0.3, 0.1]]), torch.tensor([1, 2]))  # top1 1/2
    metric.update(torch.tensor([[0.1, 0.3, 0.6]]), torch.tensor([0]))  # label ranked last
    assert metric.count == 3
    assert metric.correct == {1: 1, 2: 1, 5: 3}
    result = metric.compute()
    assert result == pytest.approx({"top1": 1 / 3, "top2": 1 / 3, "top5": 1.0})
    metric.reset()
    assert metric.compute() == {"top1": 0.0, "top2": 0.0, "top5": 0.0}


def test_topk_acc_rejects_bad_k():
    for topk in ([], [0, 1], [-1]):
        with pytest.raises(ValueError, match="TopkAcc.topk must be positive integers"):
            TopkAcc(topk=topk)
    assert METRICS["TopkAcc"] is TopkAcc


def test_metrics_log_write_read_truncate(tmp_path):
    path = tmp_path / "metrics.jsonl"
    log = MetricsLog(path)
    assert log.read() == []
    records = [{"epoch": e, "split": s, "top1": e / 10} for e in (1, 2, 3) for s in ("train", "eval")]
    for record in records:
        log.write(record)
    assert log.read() == records
    lines = path.read_text().splitlines()
    assert len(lines) == 6 and json.loads(lines[3]) == {"epoch": 2, "split": "eval", "top1": 0.2}
    log.truncate_after(2)
    assert log.read() == records[:4]
    log.write({"epoch": 3, "split": "train", "top1": 0.9})
    assert [r["epoch"] for r in MetricsLog(path).read()] == [1, 1, 2, 2, 3]
    log.truncate_after(0)
    assert log.read() == [] and path.read_text() == ""


def test_metrics_log_keeps_records_without_epoch(tmp_path):
    log = MetricsLog(tmp_path / "m.jsonl")
    log.write({"event": "start"})
    log.write({"epoch": 5, "top1": 1.0})
    log.truncate_after(1)
    assert log.read() == [{"event": "start"}]


def test_summary_line_shows_data_wait_every_topk_and_skips():
    from torchclas.engine.progress import summary_line

    train = {"loss": 0.5, "top1": 0.8, "lr": 0.1, "ips": 512.0, "data_wait": 0.034, "bad_images": 2,
             "nonfinite_steps": 0, "amp_overflows": 1}
    line = summary_line(3, 10, train, {"loss": 0.4, "top1": 0.85, "top2": 0.95}, 52.0)
    assert line == ("epoch 3/10  train loss 0.5000 top1 80.00%  lr 0.10000  512 img/s  data wait 3%  "
                    "eval loss 0.4000 top1 85.00% top2 95.00%  skipped 2 bad images  "
                    "skipped 1 AMP overflow steps  52s")
