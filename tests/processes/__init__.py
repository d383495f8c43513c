"""The shipped business processes, driven through the public API.

A package, so that its conftest does not take the module name `conftest` that `tests/api`
imports its fixtures data from when both folders are collected in one run.
"""
