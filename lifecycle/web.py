"""The operator HTTP API of the data lifecycle (Starlette routes, JSON), the same operations as the
commands in ``cli``:

==================================================================  ==========================================
``GET  /operator/caregivers/{id}/inventory``                        the inventory
``POST /operator/caregivers/{id}/export``                           export (or continue the export) on the server; the manifest
``GET  /operator/caregivers/{id}/export/manifest``                  the manifest of the finished export
``GET  /operator/caregivers/{id}/export/files/{name}``              a part (``part-000001.tar``) or ``items.jsonl``
``POST /operator/caregivers/{id}/erase``                            body: the manifest; the receipt
``POST /operator/certificates/{id}/destroy``                        body ``{"decision": REF}``; the receipt
``POST /operator/purge/test-certificates``                          body ``{"before": "YYYY-MM-DD"}``; the receipt
==================================================================  ==========================================

Exports are written under ``export_dir`` (default ``exports`` in the data directory), one folder
per care giver. Every call needs the grant ``OPERATOR_NAMESPACE`` (``tls.authorization``): for a care
giver's calls with the care giver's HSA-id as logical address (or ``"*"``), for destroy and purge
with ``"*"``; the caller's HSA-id is the operator on the receipt. ``Access`` decides.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from intygstjanst.lifecycle import erase as erasing
from intygstjanst.lifecycle.export import ITEMS, MANIFEST, ExportError, export, item_name
from intygstjanst.persistence import lifecycle
from intygstjanst.persistence.db import Database
from intygstjanst.settings import Settings
from intygstjanst.statistics.store import Sources

# The operator the authorization table lets ``request`` act as for ``logical_address`` (a care giver,
# or "*"); raises PermissionError when it does not.
Access = Callable[[Request, str], str]
EVERY_ADDRESS = "*"
_FILE = re.compile(r"part-\d{6}\.tar|" + re.escape(ITEMS))


def export_directory(settings: Settings, care_giver: str) -> Path:
    return (settings.export_dir or settings.data_dir / "exports") / item_name(care_giver)


def routes(db: Database, settings: Settings, access: Access) -> list[BaseRoute]:
    def refused(status: int, message: str) -> Response:
        return JSONResponse({"error": message}, status_code=status)

    async def run(request: Request, address: str, work: Callable[[str], Any]) -> Response:
        try:
            operator = access(request, address)
        except PermissionError as exc:
            return refused(403, str(exc))
        try:
            answer = await run_in_threadpool(work, operator)
        except (erasing.Refused, ExportError, ValueError) as exc:
            return refused(409, str(exc))
        return answer if isinstance(answer, Response) else JSONResponse(answer)

    async def body(request: Request) -> dict[str, Any]:
        try:
            value = json.loads(await request.body())
        except ValueError:
            raise ValueError("the body must be a JSON object") from None
        if not isinstance(value, dict):
            raise ValueError("the body must be a JSON object")
        return value

    async def inventory(request: Request) -> Response:
        care_giver = request.path_params["care_giver"]

        def work(_operator: str) -> dict[str, Any]:
            with db.read() as conn:
                return lifecycle.inventory(conn, care_giver)

        return await run(request, care_giver, work)

    async def export_(request: Request) -> Response:
        care_giver = request.path_params["care_giver"]
        return await run(request, care_giver, lambda _operator: export(db, care_giver, export_directory(settings, care_giver)))

    async def manifest(request: Request) -> Response:
        care_giver = request.path_params["care_giver"]

        def work(_operator: str) -> Response:
            path = export_directory(settings, care_giver) / MANIFEST
            if not path.exists():
                return refused(404, f"no finished export of care giver {care_giver}; POST .../export makes (or continues) it")
            return FileResponse(path, media_type="application/json")

        return await run(request, care_giver, work)

    async def file(request: Request) -> Response:
        care_giver, name = request.path_params["care_giver"], request.path_params["name"]

        def work(_operator: str) -> Response:
            path = export_directory(settings, care_giver) / name
            if not _FILE.fullmatch(name) or not path.exists():
                return refused(404, f"no file {name!r} in the export of care giver {care_giver}")
            return FileResponse(path, media_type="application/octet-stream")

        return await run(request, care_giver, work)

    async def erase(request: Request) -> Response:
        care_giver = request.path_params["care_giver"]
        try:
            given = await body(request)
        except ValueError as exc:
            return refused(400, str(exc))

        def work(operator: str) -> dict[str, Any]:
            path = export_directory(settings, care_giver) / MANIFEST
            if not path.exists() or json.loads(path.read_text(encoding="utf-8")).get("export_hash") != given.get("export_hash"):
                raise erasing.Refused(f"refused: that is not the manifest of the finished export of care giver {care_giver} on this server")
            return erasing.erase(db, care_giver, path, operator).as_json()

        return await run(request, care_giver, work)

    async def destroy(request: Request) -> Response:
        certificate_id = request.path_params["certificate"]
        try:
            decision = str((await body(request)).get("decision", ""))
        except ValueError as exc:
            return refused(400, str(exc))

        def work(operator: str) -> dict[str, Any]:
            return erasing.destroy(db, certificate_id, decision, operator, Sources.from_settings(settings)).as_json()

        return await run(request, EVERY_ADDRESS, work)

    async def purge(request: Request) -> Response:
        try:
            before = dt.datetime.combine(dt.date.fromisoformat(str((await body(request)).get("before"))), dt.time())
        except ValueError as exc:
            return refused(400, f"the body must be {{\"before\": \"YYYY-MM-DD\"}}: {exc}")

        def work(operator: str) -> dict[str, Any]:
            receipt = erasing.purge_test_certificates(db, before, operator, Sources.from_settings(settings))
            return receipt.as_json() if receipt is not None else {"kind": lifecycle.PURGE, "counts": {}}

        return await run(request, EVERY_ADDRESS, work)

    base = "/operator/caregivers/{care_giver}"
    return [
        Route(f"{base}/inventory", inventory, methods=["GET"]),
        Route(f"{base}/export", export_, methods=["POST"]),
        Route(f"{base}/export/manifest", manifest, methods=["GET"]),
        Route(f"{base}/export/files/{{name}}", file, methods=["GET"]),
        Route(f"{base}/erase", erase, methods=["POST"]),
        Route("/operator/certificates/{certificate}/destroy", destroy, methods=["POST"]),
        Route("/operator/purge/test-certificates", purge, methods=["POST"]),
    ]
