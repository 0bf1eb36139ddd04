"""The one user-facing error type of the user-data package."""


class UserDataError(ValueError):
    """Settings cannot be rendered into user data that boots: names the setting and the fix."""
