from hub.web.views import bp

__all__ = ["bp"]
