"""Storage behind one interface: SQLite by default, PostgreSQL later."""

from deconflict.store.base import ConflictQuery, DeclarationQuery, Page, Store, StoreTxn
from deconflict.store.sqlite import SqliteStore

__all__ = ["ConflictQuery", "DeclarationQuery", "Page", "SqliteStore", "Store", "StoreTxn"]
