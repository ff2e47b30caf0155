"""DRF-style limit/offset pages: a plain list without ``limit``, a page object with it."""
from __future__ import annotations

from urllib.parse import urlencode

from flask import request

from .validation import int_arg

MAX_LIMIT = 1000


def page_params() -> tuple[int | None, int]:
    limit = int_arg("limit", None, minimum=1, maximum=MAX_LIMIT)
    offset = int_arg("offset", 0, minimum=0) or 0
    return limit, offset


def paginated(items: list, count: int | None, limit: int | None, offset: int):
    if limit is None:
        return items

    def link(new_offset: int) -> str:
        args = {k: v for k, v in request.args.items() if k not in ("limit", "offset")}
        args.update(limit=limit, offset=new_offset)
        return f"{request.base_url}?{urlencode(args)}"

    return {
        "count": count,
        "next": link(offset + limit) if offset + limit < count else None,
        "previous": link(max(offset - limit, 0)) if offset > 0 else None,
        "results": items,
    }


def paginate_list(items: list):
    """Pages over a short, already loaded list (push certificates, enrollments)."""
    limit, offset = page_params()
    if limit is None:
        return items
    return paginated(items[offset:offset + limit], len(items), limit, offset)
