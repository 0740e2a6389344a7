"""deconflict: a deconfliction channel for parties that share a conflict zone but not trust."""

__version__ = "0.1.0"
__all__ = ["__version__"]
