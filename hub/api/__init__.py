"""REST API v1: JSON over bearer tokens. Views parse, call a service, answer."""
from hub.api.views import bp

__all__ = ["bp"]
