"""Model files and sessions."""
