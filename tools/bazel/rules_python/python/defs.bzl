"""Offline stand-in for @rules_python//python:defs.bzl: the native rules under their usual names.

Bazel 4 ships py_library/py_binary/py_test natively; the real rules_python of that era only wrapped
them. The workspace maps @rules_python here (see WORKSPACE) so nothing is downloaded.
"""

load("@bazel_tools//tools/python:toolchain.bzl", _py_runtime_pair = "py_runtime_pair")

py_runtime_pair = _py_runtime_pair

def py_library(**attrs):
    native.py_library(**attrs)

def py_binary(**attrs):
    native.py_binary(**attrs)

def py_test(**attrs):
    native.py_test(**attrs)

def py_runtime(**attrs):
    native.py_runtime(**attrs)
