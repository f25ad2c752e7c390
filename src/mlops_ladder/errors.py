class LadderError(Exception):
    """A refusal or failure the user can fix; the CLI prints it as one line."""


class Cancelled(Exception):
    """The user interrupted (Ctrl-C, SIGTERM); the message says what state things are in."""
