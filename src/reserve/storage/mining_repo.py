"""Mining rows (operations, monthly outputs, sales), mapped to the mining domain's dataclasses."""

from __future__ import annotations

from sqlalchemy.engine import Connection


class MiningStore:
    """Reads and writes of the mining tables inside the caller's transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
