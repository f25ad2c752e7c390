class LadderError(Exception):
    """A refusal or failure the user can fix; the CLI prints it as one line."""
