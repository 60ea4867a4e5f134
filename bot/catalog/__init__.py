"""The catalog: reading the intent files, checking them, and the immutable objects the bot serves."""
