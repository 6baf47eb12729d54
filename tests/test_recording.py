"""featviz's one recording of a model's layers (featviz_core.recording): this thread's pass only, nothing
written into the model, always removed, usable for gradients, and the same for every runtime that records
itself."""

from __future__ import annotations

import threading

import pytest
import torch
from torch import nn
from torch.nn.modules import module as module_module

import featviz_core as fv
from featviz_core._per_model import PerModel
from featviz_core.recording import (
    RecordedModule,
    StopForward,
    gradients,
    layer_outputs,
    named_submodules,
    recording,
    self_recording,
)


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Conv2d(3, 2, 3)).eval().requires_grad_(False)


def _hooks_on(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


def test_it_records_the_named_modules_of_this_thread_and_leaves_no_hook():
    model = _model()
    seen: list[tuple[str, tuple[int, ...]]] = []
    hooks_before = len(module_module._global_forward_hooks)
    with layer_outputs(named_submodules(model, ["0", "2"]), lambda name, m, a, out: seen.append((name, out.shape))):
        assert len(module_module._global_forward_hooks) == hooks_before + 1 and _hooks_on(model) == 0
        model(torch.zeros(1, 1, 8, 8))
        other = threading.Thread(target=lambda: model(torch.zeros(1, 1, 8, 8)))  # another session's pass
        other.start()
        other.join()
    assert seen == [("0", (1, 3, 6, 6)), ("2", (1, 2, 4, 4))]  # once each: the other thread's calls are not ours
    assert len(module_module._global_forward_hooks) == hooks_before


def test_the_hook_is_removed_when_the_pass_raises_or_is_stopped():
    model = _model()
    hooks_before = len(module_module._global_forward_hooks)

    def stop(name: str, *_: object) -> None:
        raise StopForward

    with pytest.raises(StopForward), layer_outputs(named_submodules(model), stop):
        model(torch.zeros(1, 1, 8, 8))
    with pytest.raises(RuntimeError), layer_outputs(named_submodules(model), lambda *a: None):
        model(torch.zeros(1, 5, 8, 8))  # wrong channel count
    assert len(module_module._global_forward_hooks) == hooks_before


def test_recorded_outputs_give_gradients_and_the_model_is_left_as_it_was():
    model = _model()
    before = {name: (p.requires_grad, p.grad, p.clone()) for name, p in model.named_parameters()}
    outputs: dict[str, torch.Tensor] = {}
    image = torch.rand(1, 1, 8, 8).requires_grad_(True)  # a copy of the input joins the graph
    with torch.enable_grad(), layer_outputs(named_submodules(model, ["0"]),
                                            lambda name, m, a, out: outputs.setdefault(name, out)):
        logits = model(image)
        (grad,) = gradients(logits[0, 1].sum(), [outputs["0"]])
    expected = torch.autograd.functional.vjp(lambda x: model[2](model[1](x))[0, 1].sum(), outputs["0"].detach())[1]
    torch.testing.assert_close(grad, expected)
    for name, p in model.named_parameters():
        requires_grad, grad_before, value = before[name]
        assert (p.requires_grad, p.grad) == (requires_grad, grad_before) and torch.equal(p, value)


def test_four_threads_recording_one_model_each_get_their_own_outputs():
    model = _model()
    images = [torch.full((1, 1, 8, 8), float(i)) for i in range(4)]
    alone = [model(image)[0] for image in images]
    results: dict[int, torch.Tensor] = {}
    barrier = threading.Barrier(4)

    def run(i: int) -> None:
        kept: list[torch.Tensor] = []
        barrier.wait()
        for _ in range(20):
            kept.clear()
            with layer_outputs(named_submodules(model, ["2"]), lambda name, m, a, out: kept.append(out.clone())):
                model(images[i])
        results[i] = kept

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(4):
        assert len(results[i]) == 1 and torch.equal(results[i][0][0], alone[i])


class _SelfRecorded(RecordedModule):
    layer_types = {"double": "Mul"}

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        out = batch * 2
        self.record("double", out)
        return out


def test_a_model_that_records_itself_is_captured_through_the_same_protocol():
    module = _SelfRecorded()
    assert self_recording(module) is module and self_recording(_model()) is None
    sink: list = []
    with recording(sink):
        module(torch.ones(1, 1, 2, 2))
    assert [name for name, _ in sink] == ["double"]
    module(torch.ones(1, 1, 2, 2))  # not recording: nothing kept
    assert len(sink) == 1
    maps = fv.capture(module, torch.ones(1, 2, 2))
    assert list(maps) == ["double"] and maps["double"].module_type == "Mul"
    assert torch.equal(maps["double"].tensor, torch.full((1, 2, 2), 2.0))


def test_a_scripted_model_is_found_as_one_that_records_itself():
    scripted = torch.jit.script(_model())
    assert self_recording(scripted) is not None
    assert set(fv.capture(scripted, torch.rand(1, 8, 8))) == {"0", "1", "2"}


def test_per_model_values_go_with_the_model_and_are_bounded():
    memo = PerModel[int](per_model=2)
    model = _model()
    for key in range(3):
        memo.put(model, key, key=key)
    assert (memo.get(model, 0), memo.get(model, 1), memo.get(model, 2)) == (None, 1, 2)  # the oldest went
    del model
    import gc

    gc.collect()
    assert len(memo._values) == 0  # weak: nothing keeps a model alive
