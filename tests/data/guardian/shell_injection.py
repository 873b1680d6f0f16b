"""Runs a command the caller passes in, through a shell."""

import subprocess


def run(cmd):
    return subprocess.call(cmd, shell=True)
