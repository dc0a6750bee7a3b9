"""Database layer: the engine and transaction policy (`engine`), the tables (`models`)."""

from idmx.db.engine import Database

__all__ = ["Database"]
