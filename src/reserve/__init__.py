"""Sovereign Reserve: the books, custody and reporting of a national digital-asset reserve."""

__version__ = "0.1.0"
