"""Tests: the repository root is their package root, so `proxy` etc. are ours, never a test folder."""
