"""Reliability and security suite (issue 7): fault matrix, fuzzing, secret leaks, webhook
load and emulator fidelity. Runs in the core lane: `.venv/bin/python -m pytest tests/reliability`.
"""
