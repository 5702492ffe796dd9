"""qunflow: the spreadsheet-driven engine for merchant chat groups (社群运营)."""

__version__ = "0.1.0"
