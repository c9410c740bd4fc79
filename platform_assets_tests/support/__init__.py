"""Helpers the tests share: plain functions and classes, imported by name.

Conftest files hold fixtures only; anything a test imports comes from here. Nothing here
reaches into a private function of ``platform_assets``.

- ``paths``: the repository and the bundled contract.
- ``environment``: a subprocess environment without a developer's Claude or AWS settings.
- ``batches``: contract-check batches from Arrow tables.
- ``scripted_server``: a loopback Anthropic Messages API replaying a script.
- ``models``: a tiny real ONNX model for the registry.
- ``evals``: a copy of the shipped eval suite, hand-written requirements and cases, Claude's
  drafting
  answers, a small real fraud model as ONNX.
- ``dagster``: offline Dagster resources and event lookups.
- ``triage``: failing jobs and the triage sensor run over their failures.
- ``dagster_dev``: a ``dagster dev`` server for the browser test.
"""
