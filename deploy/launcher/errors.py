"""The one error the launcher raises: it says why a start failed."""


class LaunchError(RuntimeError):
    """A component could not be started; the message says why and shows its last log lines."""
