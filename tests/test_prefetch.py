"""`finished_ahead`: batches finished in a background thread come out in order, equal to
finishing them in the loop; errors surface at their batch; leaving early stops the thread."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from torchclas.data.prefetch import finished_ahead

CPU = torch.device("cpu")


def double(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    time.sleep(0.001 * (int(batch[0]) % 3))  # uneven work, to shake the ordering
    return (batch * 2).to(device)


def test_batches_come_out_in_order_and_equal_to_finishing_them_in_the_loop():
    batches = [torch.arange(i, i + 4) for i in range(0, 80, 4)]
    ahead = list(finished_ahead(batches, double, CPU, depth=3))
    assert len(ahead) == len(batches)
    for got, batch in zip(ahead, batches):
        assert torch.equal(got, double(batch, CPU))


def test_an_error_in_the_thread_is_raised_at_its_batch():
    def finish(batch, device):
        if int(batch[0]) == 8:
            raise ValueError("bad image /data/x.jpg")
        return batch

    seen = []
    with pytest.raises(ValueError, match="/data/x.jpg"):
        for batch in finished_ahead([torch.tensor([i]) for i in range(0, 20, 4)], finish, CPU):
            seen.append(int(batch[0]))
    assert seen == [0, 4]


def test_leaving_early_stops_the_thread_and_takes_no_more_batches():
    taken = []

    def source():
        for i in range(1000):
            taken.append(i)
            yield torch.tensor([i])

    batches = finished_ahead(source(), double, CPU, depth=2)
    assert int(next(batches)[0]) == 0
    batches.close()
    deadline = time.time() + 5
    while any(t.name == "finish-ahead" for t in threading.enumerate()) and time.time() < deadline:
        time.sleep(0.01)
    assert not any(t.name == "finish-ahead" for t in threading.enumerate())
    assert len(taken) <= 5  # the one consumed, two queued, one in hand: not the whole source


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_on_a_gpu_the_side_stream_result_is_ready_on_the_current_stream():
    cuda = torch.device("cuda")
    batches = [torch.randn(64, 3, 224, 224) for _ in range(6)]
    for got, batch in zip(finished_ahead(batches, lambda b, d: (b.to(d) * 2).sum((1, 2, 3)), cuda), batches):
        assert torch.allclose(got.cpu(), (batch * 2).sum((1, 2, 3)), rtol=1e-4, atol=1e-2)
