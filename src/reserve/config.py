"""Configuration: one pydantic-settings class, built in ``bootstrap`` and passed down.

Nothing else in the code reads the environment.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """``RESERVE_DATABASE_URL`` and friends; the CLI's ``--db`` overrides the environment."""

    model_config = SettingsConfigDict(env_prefix="RESERVE_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///reserve.db",
        description="SQLAlchemy URL: sqlite:///FILE or postgresql+psycopg://USER@HOST/DB",
    )
    actor: str = Field(default="system", description="who acts when the CLI is not told")
    data_dir: Path = Field(
        default=Path(__file__).resolve().parents[2] / "data",
        description="the vendored public data (prices, sanctions lists) and their SOURCE notes",
    )
    intake_policy: Path = Field(
        default=Path(__file__).resolve().parents[2] / "config" / "intake.toml",
        description="the intake policy (mining sale rules, licensed venues, committee quorum)",
    )
    transfer_policy: Path = Field(
        default=Path(__file__).resolve().parents[2] / "config" / "transfer_policy.toml",
        description="the transfer policy the demo proposes (in life: `custody policy propose`)",
    )
    market_config: Path = Field(
        default=Path(__file__).resolve().parents[2] / "config" / "market.toml",
        description="price sources, the fix methodology and the USD/KZT rate limits",
    )
    valuation_policy: Path = Field(
        default=Path(__file__).resolve().parents[2] / "config" / "valuation.toml",
        description="the accounting basis, the national reserves denominator, alert thresholds",
    )
    wallet_dir: Path | None = Field(
        default=None,
        description="where the watch-only vault wallets (bdk SQLite files) are kept; by default "
        "a folder beside a SQLite database, else ./wallets",
    )
    custody_confirmations: int = Field(
        default=6, ge=1, description="confirmations before a transfer is booked in the ledger"
    )
