"""Purchase rows (orders, fills, closures), mapped to the purchase domain's dataclasses."""

from __future__ import annotations

from sqlalchemy.engine import Connection


class PurchaseStore:
    """Reads and writes of the purchase tables inside the caller's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
