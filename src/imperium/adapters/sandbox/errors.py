"""The sandbox's exceptions."""


class SandboxError(Exception):
    """The sandbox itself failed (temporary directory, bubblewrap, the launcher): not the
    command's doing, so another attempt may succeed."""


class SandboxUnavailableError(SandboxError):
    """This host cannot isolate code (no bubblewrap, no user namespaces, no Python the
    sandbox user can run) and unsafe runs are not allowed. Retrying does not help; the
    message says what to install or set."""


class UnsafePathError(ValueError):
    """A name in ``files`` is absolute or climbs out of the working directory."""
