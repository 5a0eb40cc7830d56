"""SOQL: /query and /queryAll with `q`, paged through nextRecordsUrl; and /limits."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request

from devcrm.salesforce.context import emulator, org
from devcrm.salesforce.errors import SfError, not_found
from devcrm.salesforce.soql import Query, parse

bp = Blueprint("sf_query", __name__)


def _row(query: Query, record: dict[str, Any], version: str) -> dict[str, Any]:
    url = f"/services/data/v{version}/sobjects/{query.sobject}/{record['Id']}"
    return {"attributes": {"type": query.sobject, "url": url},
            **{name: record.get(name) for name in query.fields}}


def _page(rows: list[dict[str, Any]], total: int, start: int, locator: str | None,
          endpoint: str, version: str) -> dict[str, Any]:
    batch = emulator().query_batch
    page = rows[start:start + batch]
    done = start + batch >= len(rows)
    answer: dict[str, Any] = {"totalSize": total, "done": done, "records": page}
    if not done:
        answer["nextRecordsUrl"] = f"/services/data/v{version}/{endpoint}/{locator}-{start + batch}"
    return answer


@bp.get("/services/data/v<version>/query/")
@bp.get("/services/data/v<version>/query")
@bp.get("/services/data/v<version>/queryAll/")
@bp.get("/services/data/v<version>/queryAll")
def query(version: str) -> Response:
    text = request.args.get("q")
    if not text:
        raise SfError(400, "MALFORMED_QUERY", "A query string has to be specified")
    parsed = parse(text)
    endpoint = request.path.rstrip("/").rsplit("/", 1)[1]
    rows_in = org().all(parsed.sobject, with_deleted=endpoint == "queryAll")
    matching = [r for r in rows_in if parsed.matches(r)]
    if parsed.order_by is not None:
        key = parsed.order_by
        matching.sort(key=lambda r: (r.get(key) is None, str(r.get(key) or "")),
                      reverse=parsed.descending)
    if parsed.limit is not None:
        matching = matching[:parsed.limit]
    rows = [_row(parsed, r, version) for r in matching]
    locator = emulator().open_cursor(org().org_id, rows) if len(rows) > emulator().query_batch \
        else None
    return jsonify(_page(rows, len(rows), 0, locator, endpoint, version))


@bp.get("/services/data/v<version>/query/<cursor>")
@bp.get("/services/data/v<version>/queryAll/<cursor>")
def query_more(version: str, cursor: str) -> Response:
    locator, _, start = cursor.partition("-")
    entry = emulator().cursors.get(locator)
    if entry is None or entry[1] != org().org_id or not start.isdigit():
        raise SfError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    rows = entry[0]
    endpoint = request.path.rstrip("/").split("/")[-2]
    return jsonify(_page(rows, len(rows), int(start), locator, endpoint, version))


@bp.get("/services/data/v<version>/limits/")
@bp.get("/services/data/v<version>/limits")
def limits(version: str) -> Response:
    emu = emulator()
    used = emu.limiter.used(org().org_id)
    return jsonify({"DailyApiRequests": {"Max": emu.limiter.limit,
                                         "Remaining": max(0, emu.limiter.limit - used)},
                    "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
                    "DataStorageMB": {"Max": 5, "Remaining": 5}})


@bp.get("/services/data/v<version>/")
def resources(version: str) -> Response:
    base = f"/services/data/v{version}"
    if not version.replace(".", "").isdigit():
        raise not_found()
    return jsonify({"sobjects": f"{base}/sobjects", "query": f"{base}/query",
                    "queryAll": f"{base}/queryAll", "limits": f"{base}/limits",
                    "composite": f"{base}/composite"})
