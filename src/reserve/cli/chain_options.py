"""The chain source a custody command talks to: ``--rpc`` (Bitcoin Core JSON-RPC) or
``--esplora``, exactly one. Shared by vault sync, broadcast, confirm and reconcile."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

import typer

from reserve.adapters.chain import ChainSource
from reserve.core.errors import InvalidInput

RpcOption = Annotated[
    str | None, typer.Option("--rpc", help="Bitcoin Core JSON-RPC, http://user:pass@host:port.")
]
EsploraOption = Annotated[str | None, typer.Option("--esplora", help="Esplora base URL.")]


def chain_source(rpc: str | None, esplora: str | None) -> ChainSource:
    """A chain source from ``--rpc http://user:pass@host:port`` or ``--esplora URL``."""
    if (rpc is None) == (esplora is None):
        raise InvalidInput.one("option", "--rpc/--esplora", "give exactly one chain source")
    if esplora is not None:
        from reserve.adapters.chain_esplora import Esplora

        return Esplora(esplora)
    from reserve.adapters.chain_rpc import CoreRpc

    assert rpc is not None
    parts = urlsplit(rpc)
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    plain = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return CoreRpc(plain, parts.username or "", parts.password or "")
