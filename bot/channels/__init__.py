"""Channel adapters: console, SMS (Twilio), Telegram."""
