"""csbot: child support self-service over SMS and Telegram."""

__version__ = "0.1.0"
