"""The conversation: what the bot says next. Never imports a channel or SQLAlchemy."""
