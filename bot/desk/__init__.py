"""The staff desk (`csbot desk`): a separate web application where staff answer parents'
office messages and work the queues the bot fills. Never mounted in the public service."""
