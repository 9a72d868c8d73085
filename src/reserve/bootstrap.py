"""The composition root: settings -> engine -> units of work, handed to the services."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from reserve.config import Settings
from reserve.core.clock import Clock, utc_now
from reserve.storage.engine import make_engine
from reserve.storage.migrate import upgrade
from reserve.storage.uow import UnitOfWork


@dataclass
class Reserve:
    """Everything a use case needs to reach the outside world."""

    settings: Settings
    engine: Engine
    clock: Clock = field(default=utc_now)

    def writing(self) -> UnitOfWork:
        return UnitOfWork(self.engine, write=True)

    def reading(self) -> UnitOfWork:
        return UnitOfWork(self.engine, write=False)

    def close(self) -> None:
        self.engine.dispose()


def bootstrap(settings: Settings, *, migrate: bool = True, clock: Clock = utc_now) -> Reserve:
    """Connect, and bring an older schema up to date unless told not to."""
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    return Reserve(settings=settings, engine=engine, clock=clock)
