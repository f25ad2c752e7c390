"""mlops-ladder: generate an ML repository at an MLOps maturity level and climb it in place."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mlops-ladder")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
