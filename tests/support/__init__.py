"""Helpers for tests: agents used by subprocess tests, the crash harness."""
