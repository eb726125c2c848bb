"""bptraf: an XDP-based, top-like traffic monitor."""

__version__ = "0.1.0"
