"""Checks on capture(): no hook left behind, and concurrent captures that do not mix.

Shared by the tests of Python models (test_capture) and of TorchScript uploads (test_uploads).
"""

from __future__ import annotations

import threading

import torch
from torch import nn

import featviz_core as fv


def hook_count(model: nn.Module) -> int:
    """Hooks on the model's modules, plus the process-wide ones capture() uses, plus any torch function mode."""
    from torch.nn.modules import module as module_module
    from torch.overrides import _get_current_function_mode_stack

    return (
        sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules())
        + len(module_module._global_forward_hooks)
        + len(_get_current_function_mode_stack())
    )


def assert_concurrent_captures_match(model, images: list[torch.Tensor], rounds: int = 5) -> None:
    """Capture each image on its own thread, all at once, several rounds: each must equal its lone capture."""
    expected = [fv.capture(model, image) for image in images]
    results: dict[int, fv.Capture] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(images))

    def run(index: int) -> None:
        try:
            start.wait()
            for _ in range(rounds):  # several rounds, so forward passes really overlap
                results[index] = fv.capture(model, images[index])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(images))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(results) == len(images)
    for index, captured in results.items():
        assert list(captured) == list(expected[index])
        for key in captured:
            assert torch.equal(captured[key].tensor, expected[index][key].tensor), (index, key)
