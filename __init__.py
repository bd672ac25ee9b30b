"""intygstjanst: the national hub for digital medical certificates."""

__version__ = "0.1.0"
