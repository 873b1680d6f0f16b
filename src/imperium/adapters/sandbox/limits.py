"""What one run may use (:class:`Limits`) and the rlimits that enforce it."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

_MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """What one run may use. Validated on creation."""

    timeout: float = 30
    cpu_seconds: int = 30
    memory_mb: int = 512
    file_size_mb: int = 16
    max_processes: int = 64

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"limit {name} must be a positive number, not {value!r}")


def to_rlimits(limits: Limits, nproc: bool) -> list[tuple[str, int, int]]:
    memory, fsize = int(limits.memory_mb * _MB), int(limits.file_size_mb * _MB)
    cpu, processes = math.ceil(limits.cpu_seconds), int(limits.max_processes)
    rlimits = [
        ("RLIMIT_CPU", cpu, cpu + 1),
        ("RLIMIT_AS", memory, memory),
        ("RLIMIT_FSIZE", fsize, fsize),
        ("RLIMIT_CORE", 0, 0),
    ]
    if nproc:
        rlimits.append(("RLIMIT_NPROC", processes, processes))
    return rlimits
