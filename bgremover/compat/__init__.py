"""Other services' request parameters translated to our engine's Options and layout (Flask-free)."""
