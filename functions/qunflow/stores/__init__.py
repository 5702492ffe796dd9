"""Where the workbook lives: one small interface, three backends.

- GoogleSheetsStore: a Google sheet through gspread (1 request to read, at most 2 to write).
- XlsxStore: a local .xlsx workbook, the embedded default.
- MemoryStore: in memory, for unit tests.
"""
from .base import Snapshot, Store, WriteReport
from .source import open_store, parse_source

__all__ = ["Snapshot", "Store", "WriteReport", "open_store", "parse_source"]
