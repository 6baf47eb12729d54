"""featviz's tests. A package so that pytest's rootdir-based import finds ``tests.support``."""
