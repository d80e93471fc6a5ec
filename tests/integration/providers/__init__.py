"""Integration tests of provider backends against local stand-ins of their services."""
