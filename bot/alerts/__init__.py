"""Alerts a parent asked for (spec/interface.md, "Alerts (opt-in)"): consent per chat, events
found by `csbot import` and the daily coupon check, and their delivery through the outbound
queue. One job a module: consent.py, events.py, delivery.py, listing.py, runner.py."""
