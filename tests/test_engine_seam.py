"""The training step's seam (model outputs a tensor or a dict; criterion(outputs, batch);
metric.update(outputs, batch)), the hook events around it, the settings/state split and the
configurable best-model metric."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from torchclas.configure import config_from_dict
from torchclas.config.registry import UnknownName
from torchclas.engine.batches import Batch, detached_float
from torchclas.engine.checkpoint_hooks import BestModelHook, CheckpointHook
from torchclas.engine.eval_report import EvalReportHook
from torchclas.engine.distributed import DistInfo
from torchclas.engine.hooks import EVENTS, Hooks, RunLogHook, StopSignalHook, build_hooks
from torchclas.engine.progress import EpochSummary, ProgressBar
from torchclas.engine.settings import TrainSettings, build_settings
from torchclas.engine.state import TrainState
from torchclas.engine.tensorboard_log import TensorBoardHook
from torchclas.engine.trainer import Trainer
from torchclas.losses import CELoss, CombinedLoss, build_loss
from torchclas.metrics import METRICS, TopkAcc, build_metric
from torchclas.testing.tiny import tiny_config_dict

CPU = torch.device("cpu")


class PairModel(nn.Module):
    """A model returning a dict of named logits, as a distillation pair does."""

    def __init__(self):
        super().__init__()
        self.student = nn.Linear(4, 3)

    def forward(self, images):
        logits = self.student(images.flatten(1))
        return {"Student": logits, "Teacher": logits.detach() * 2}


class StudentLoss(nn.Module):
    """A criterion over a dict of outputs: CE of the student, plus a named part."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, outputs, batch):
        self.seen.append((sorted(outputs), batch.index, batch.labels.tolist()))
        ce = nn.functional.cross_entropy(outputs["Student"], batch.labels)
        gap = (outputs["Student"] - outputs["Teacher"]).pow(2).mean()
        return {"loss": ce + 0.0 * gap, "ce": ce, "gap": gap}


class StudentAcc(TopkAcc):
    def update(self, outputs, batch):
        super().update(outputs["Student"], batch)


class Loader:
    """The loader protocol the engine reads (a `DeviceLoader`'s): ``on(device, channels_last)``
    gives the loader whose iteration yields (images, labels, bad) triples on that device."""

    def __init__(self, batches):
        self.batches = batches
        self.batch_sampler = SimpleNamespace(set_epoch=lambda epoch, start: None)

    def on(self, device, channels_last=False):
        return self

    def batch_paths(self, index):
        return []

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        return iter(self.batches)


class Scheduler:
    last_step, scale, steps_per_epoch = 0, 1.0, 2

    def step(self):
        self.last_step += 1

    def epoch_end(self, value):
        self.watched = value


class Recorder:
    """A hook that records every event it is called with (what a TensorBoard hook would see)."""

    def __init__(self):
        self.events = []

    def __getattr__(self, name):
        if name not in EVENTS:
            raise AttributeError(name)
        return lambda trainer, *args: self.events.append(name)


def _trainer(hooks, eval_loader=None, epochs=2):
    torch.manual_seed(0)
    net = PairModel()
    batches = [(torch.randn(2, 4), torch.tensor([0, 2]), []), (torch.randn(2, 4), torch.tensor([1, 1]), [])]
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    state = TrainState(net=net, model=net, optimizer=optimizer, scheduler=Scheduler())
    return Trainer(state=state, settings=TrainSettings(epochs=epochs, seed=1, best_metric="top1"),
                   criterion=StudentLoss(), train_metric=StudentAcc([1, 2]), eval_metric=StudentAcc([1, 2]),
                   eval_criterion=StudentLoss(), train_loader=Loader(batches), eval_loader=eval_loader,
                   hooks=Hooks(hooks), device=CPU)


def test_a_model_returning_a_dict_trains_through_the_seam_and_hooks_see_every_event():
    recorder = Recorder()
    trainer = _trainer([recorder])
    result = trainer.fit()
    assert trainer.criterion.seen[:2] == [(["Student", "Teacher"], 0, [0, 2]), (["Student", "Teacher"], 1, [1, 1])]
    assert trainer.state.scheduler.last_step == 4  # 2 batches x 2 epochs, accum_steps 1
    assert result["epoch"] == 2 and result["eval"] is None and result["train"]["num_images"] == 4
    assert set(result["train"]) >= {"loss", "top1", "top2", "lr"}
    assert result["best_top1"] == -1.0 and result["best_epoch"] == 0
    epoch = ["on_epoch_setup", "on_epoch_start"] + ["on_step_end", "on_batch_end"] * 2  # accum_steps 1: a step per batch
    assert recorder.events == (["on_train_start"] + (epoch + ["on_epoch_end", "on_eval_end"]) * 2
                               + ["on_train_end"])


def test_evaluation_goes_through_the_same_seam_and_the_best_metric_is_a_parameter(tmp_path):
    eval_batches = [(torch.randn(3, 4), torch.tensor([0, 1, 2]), [])]
    best = BestModelHook(tmp_path, "PairModel", 3)
    trainer = _trainer([best], eval_loader=Loader(eval_batches), epochs=1)
    trainer.settings = TrainSettings(epochs=1, seed=1, best_metric="top2")
    result = trainer.fit()
    assert set(result["eval"]) == {"loss", "top1", "top2", "num_images"}
    assert result["best_top1"] == result["eval"]["top2"] and result["best_epoch"] == 1
    assert (tmp_path / "best_model.safetensors").is_file()


def test_best_model_hook_keeps_the_highest_value_of_its_metric(tmp_path):
    net = nn.Linear(2, 2)
    state = TrainState(net=net, model=net, optimizer=torch.optim.SGD(net.parameters(), lr=0.1), scheduler=None)
    trainer = SimpleNamespace(state=state, settings=TrainSettings(epochs=3, seed=0, best_metric="mAP"))
    hook = BestModelHook(tmp_path, "Linear", 2)
    for epoch, value in ((1, 0.4), (2, 0.7), (3, 0.6)):
        hook.on_eval_end(trainer, epoch, {"mAP": value, "top1": 1.0 - value})
    assert (state.best_value, state.best_epoch) == (0.7, 2)
    hook.on_eval_end(trainer, 4, None)  # an epoch without evaluation changes nothing
    assert state.best_epoch == 2


def test_hooks_call_in_order_and_refuse_unknown_events():
    calls = []

    class A:
        def on_step_end(self, trainer, progress):
            calls.append("a")

    class B:
        def on_step_end(self, trainer, progress):
            calls.append("b")

    hooks = Hooks([A(), object(), B()])
    hooks.call("on_step_end", None, None)
    hooks.call("on_epoch_end", None, 1, {})  # nobody listens: nothing happens
    assert calls == ["a", "b"]
    with pytest.raises(ValueError, match="unknown hook event 'on_step_ends'"):
        hooks.call("on_step_ends", None, None)


def test_build_hooks_orders_them_and_only_rank_0_writes(tmp_path, tiny_data):
    cfg = config_from_dict(tiny_config_dict(tiny_data, tmp_path))
    main = [type(h) for h in build_hooks(cfg, tmp_path, is_main=True, fresh=True).hooks]
    assert main == [ProgressBar, RunLogHook, BestModelHook, EvalReportHook, CheckpointHook, EpochSummary,
                    StopSignalHook]
    other = [type(h) for h in build_hooks(cfg, tmp_path, is_main=False, fresh=True).hooks]
    assert other == [ProgressBar, CheckpointHook, StopSignalHook]
    for key in ("use_visualdl", "tensorboard"):  # TensorBoard: either key, rank 0 only
        on = cfg.model_copy(update={"Global": cfg.Global.model_copy(update={key: True})})
        main = [type(h) for h in build_hooks(on, tmp_path, is_main=True, fresh=True).hooks]
        assert main[:3] == [ProgressBar, RunLogHook, TensorBoardHook], key
        assert TensorBoardHook not in [type(h) for h in build_hooks(on, tmp_path, is_main=False, fresh=True).hooks]


def test_settings_hold_the_configuration_and_state_only_state(tmp_path, tiny_data):
    raw = tiny_config_dict(tiny_data, tmp_path)
    raw["Global"].update(accum_steps=2, nan_patience=7, eval_interval=3, channels_last=False)
    raw["AMP"] = {"dtype": "bfloat16", "use_fp16_test": True}
    cfg = config_from_dict(raw)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    settings = build_settings(cfg, net, CPU, seed=5, best_metric="top2")
    assert (settings.accum_steps, settings.nan_patience, settings.eval_interval, settings.seed) == (2, 7, 3, 5)
    assert settings.min_batch == 2 and settings.channels_last is False
    assert settings.amp_dtype is torch.bfloat16 and settings.eval_amp_dtype is torch.bfloat16
    assert settings.best_metric == "top2"
    config_like = {"accum_steps", "nan_patience", "min_batch", "channels_last", "ema_decay", "loss_fn", "amp_dtype"}
    assert not config_like & set(TrainState.__dataclass_fields__)


def test_metrics_take_outputs_and_batch_and_name_their_best_value():
    metric = TopkAcc([1, 2])
    logits = torch.tensor([[0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
    metric.update(logits, Batch(images=torch.empty(2, 0), labels=torch.tensor([1, 2])))
    metric.update(logits, torch.tensor([0, 1]))  # the direct form
    assert metric.compute() == {"top1": 0.25, "top2": 0.75} and metric.best_key == "top1"
    assert TopkAcc([5, 2]).best_key == "top5"
    sums = metric.state_dict()
    again = TopkAcc([1, 2])
    again.load_state_dict(sums)
    again.all_reduce(lambda values: [2 * v for v in values])  # two processes with the same sums
    assert again.count == 8 and again.compute() == metric.compute()
    with pytest.raises(TypeError, match="returned a dict with keys"):
        metric.update({"Student": logits}, torch.tensor([1, 2]))
    with pytest.raises(UnknownName, match="TopkAcc"):
        METRICS["TopAcc"]
    assert build_metric(None, "Metric.Eval").ks == (1, 5)


def test_criterion_takes_outputs_and_batch_as_well_as_logits_and_labels():
    logits, labels = torch.randn(4, 3), torch.tensor([0, 1, 2, 1])
    criterion = build_loss([{"CELoss": {"epsilon": 0.1}}])
    by_batch = criterion(logits, Batch(images=torch.empty(4, 0), labels=labels))
    assert torch.equal(by_batch["loss"], criterion(logits, labels)["loss"])
    with pytest.raises(TypeError, match="CELoss: these losses take a tensor"):
        CombinedLoss([("CELoss", CELoss())])({"Student": logits}, labels)
    assert detached_float({"a": logits.bfloat16().requires_grad_()})["a"].dtype == torch.float32


def test_stop_signal_hook_stops_after_the_checkpoint_and_not_after_the_last_epoch():
    from torchclas.engine.signals import TrainingStopped
    from torchclas.engine.state import EpochProgress

    trainer = SimpleNamespace(state=SimpleNamespace(stop_signal="SIGTERM"), train_loader=[0, 1, 2],
                              settings=TrainSettings(epochs=3, seed=0), dist=DistInfo())
    hook = StopSignalHook()
    hook.on_step_end(trainer, EpochProgress(batches=3))  # the epoch's last step: left to the epoch's end
    with pytest.raises(TrainingStopped):
        hook.on_step_end(trainer, EpochProgress(batches=1))
    with pytest.raises(TrainingStopped):
        hook.on_eval_end(trainer, 2, None)
    hook.on_eval_end(trainer, 3, None)  # the last epoch finishes
