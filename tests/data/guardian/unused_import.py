"""Formats a greeting."""

import json


def greet(name):
    return f"Hello, {name}"
