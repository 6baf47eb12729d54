"""The public namespace is what a notebook needs, and every name in it has an example that runs."""

from __future__ import annotations

import doctest
import inspect

import pytest

import featviz_core as fv

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE | doctest.IGNORE_EXCEPTION_DETAIL


def test_the_namespace_is_small_and_holds_no_plumbing():
    assert len(fv.__all__) <= 40
    exported = {name for name in dir(fv) if not name.startswith("_") and not inspect.ismodule(getattr(fv, name))}
    assert set(fv.__all__) == exported
    for plumbing in ("LRUCache", "compact", "tune_allocator", "release_free_memory", "mosaic_layout", "figure_cache"):
        assert plumbing not in fv.__all__ and not hasattr(fv, plumbing)


@pytest.mark.parametrize("name", fv.__all__)
def test_every_public_name_has_an_example_that_runs(name, one_torch_thread):
    obj = getattr(fv, name)
    finder = doctest.DocTestFinder(recurse=False)
    tests = [test for test in finder.find(obj, name, globs={}) if test.examples]
    assert tests, f"fv.{name} has no example in its docstring"
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in tests:
        runner.run(test)
    assert runner.failures == 0, f"fv.{name}'s example does not give what it shows (see the output above)"


def test_the_package_docstring_example_runs(one_torch_thread):
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in doctest.DocTestFinder(recurse=False).find(fv, "featviz_core", globs={}):
        runner.run(test)
    assert runner.failures == 0
