"""The HTTP API: an app factory over the channel service."""

from deconflict.api.app import create_app

__all__ = ["create_app"]
