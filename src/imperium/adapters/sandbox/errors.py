"""The sandbox's exceptions."""


class SandboxError(Exception):
    """The sandbox itself failed (temporary directory, ``unshare``, the launcher): not the
    command's doing, so another attempt may succeed."""


class UnsafePathError(ValueError):
    """A name in ``files`` is absolute or climbs out of the working directory."""
