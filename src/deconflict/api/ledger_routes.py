"""HTTP routes of the ledger under ``/v1/ledger``: the signed tree head, the verifier key,
proofs, leaves the caller may read and evidence files."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse

from deconflict.api.params import parse_count
from deconflict.api.schemas import (
    ConsistencyProof,
    Evidence,
    InclusionProof,
    LeafOut,
    problem_doc,
)
from deconflict.ledger import b64
from deconflict.principals import Principal
from deconflict.service import Channel

__all__ = ["build_ledger_router"]

_TEXT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/plain": {"schema": {"type": "string"}}}}
}
_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: problem_doc("no valid bearer token"),
    404: problem_doc("no such leaf or object, or one the caller may not read"),
    422: problem_doc("a parameter broke a rule"),
}


def build_ledger_router(channel: Channel, caller: Any) -> APIRouter:
    router = APIRouter(prefix="/ledger", tags=["ledger"], dependencies=[caller])
    who_dep = caller

    @router.get(
        "/checkpoint",
        summary="The latest signed tree head (C2SP checkpoint)",
        response_class=PlainTextResponse,
        responses=_PROBLEMS | _TEXT,
    )
    async def checkpoint() -> PlainTextResponse:
        return PlainTextResponse(await run_in_threadpool(channel.checkpoint))

    @router.get(
        "/key",
        summary="The ledger's verifier key (note verifier-key format)",
        response_class=PlainTextResponse,
        responses=_PROBLEMS | _TEXT,
    )
    async def key() -> PlainTextResponse:
        return PlainTextResponse(channel.ledger.signer.verifier.to_text() + "\n")

    @router.get(
        "/inclusion",
        summary="Inclusion proof of a leaf in a tree size",
        responses=_PROBLEMS | {200: {"model": InclusionProof}},
    )
    async def inclusion(
        leaf_index: str | None = Query(None), tree_size: str | None = Query(None)
    ) -> JSONResponse:
        index, size = parse_count(leaf_index, "leaf_index"), parse_count(tree_size, "tree_size")
        proof = await run_in_threadpool(channel.inclusion, index, size)
        return JSONResponse(
            {"leaf_index": index, "tree_size": size, "hashes": [b64(h) for h in proof]}
        )

    @router.get(
        "/consistency",
        summary="Consistency proof between two tree sizes",
        responses=_PROBLEMS | {200: {"model": ConsistencyProof}},
    )
    async def consistency(
        first: str | None = Query(None), second: str | None = Query(None)
    ) -> JSONResponse:
        m, n = parse_count(first, "first"), parse_count(second, "second")
        proof = await run_in_threadpool(channel.consistency, m, n)
        return JSONResponse({"first": m, "second": n, "hashes": [b64(h) for h in proof]})

    @router.get(
        "/leaves/{index}",
        summary="The exact bytes of a leaf the caller may read",
        responses=_PROBLEMS | {200: {"model": LeafOut}},
    )
    async def leaf(index: str, who: Principal = who_dep) -> JSONResponse:
        i = parse_count(index, "index")
        raw = await run_in_threadpool(channel.leaf, who, i)
        return JSONResponse({"index": i, "leaf": b64(raw)})

    @router.get(
        "/evidence/{object_id}",
        summary="Evidence file: every entry about an object the caller may read, with proofs",
        responses=_PROBLEMS | {200: {"model": Evidence}},
    )
    async def evidence(object_id: str, who: Principal = who_dep) -> JSONResponse:
        return JSONResponse(await run_in_threadpool(channel.evidence, who, object_id))

    return router
