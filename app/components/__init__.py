"""Wrappers around third-party backends, each chosen by a setting."""
