"""The HTTP layer: Flask blueprints and extensions around the processing engine."""
