"""Account services: the store behind the dialogs' narrow interface (dialogs/ports.py)."""
