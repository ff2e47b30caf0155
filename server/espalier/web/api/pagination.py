"""DRF's LimitOffsetPagination: a plain list without ``limit``, a page object with it.

As DRF: a ``limit`` or ``offset`` that is not a positive integer is ignored (the default
applies), and a ``limit`` above ``MAX_LIMIT`` is capped, never refused.
"""
from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from flask import request
from pydantic import BeforeValidator, WithJsonSchema

from espalier.validation import Schema, char

MAX_LIMIT = 1000
DB_INT_MAX = 2**31 - 1


def _lenient(cap: int):
    def read(value):
        if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            number = int(value.strip())
            return min(number, cap) if number > 0 else None
        return None
    return read


class PageQuery(Schema):
    limit: Annotated[int | None, BeforeValidator(_lenient(MAX_LIMIT)),
                     WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_LIMIT})] = None
    offset: Annotated[int | None, BeforeValidator(_lenient(DB_INT_MAX)),
                      WithJsonSchema({"type": "integer", "minimum": 0})] = None


class NameQuery(PageQuery):
    """A page, filtered by exact ``name`` (DRF's ``filterset_fields = ('name',)``; empty: ignored)."""

    name: char(256, allow_blank=True) = None


def paginated(items: list, count: int | None, limit: int | None, offset: int | None):
    if limit is None:
        return items
    offset = offset or 0

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


def paginate_list(items: list, page: PageQuery):
    """Pages over a short, already loaded list (push certificates, enrollments)."""
    if page.limit is None:
        return items
    offset = page.offset or 0
    return paginated(items[offset:offset + page.limit], len(items), page.limit, offset)
