"""IDMX: public consultations that decide which government data gets published."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("idmx")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
