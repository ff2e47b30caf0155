"""Key rotation for secrets at rest: re-encrypt every stored secret with the first key.

Put a new key first in ``secret_keys`` (keep the old ones after it), run ``espalier secrets
rewrap``, then drop the old keys. Rows are read and rewritten in batches by primary key.
"""
from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from espalier.models.base import secret_columns
from espalier.pki.secrets import SecretBox


def key_usage(s: Session, box: SecretBox) -> Counter:
    """How many stored secrets each key id encrypted."""
    counts: Counter = Counter()
    for model, column in secret_columns():
        for token in s.scalars(select(getattr(model, column)).where(getattr(model, column).is_not(None))):
            counts[box.key_id(token)] += 1
    return counts


def rewrap(s: Session, box: SecretBox, batch: int = 500) -> int:
    """Re-encrypt with the first key every secret another key encrypted; returns how many."""
    done = 0
    for model, column in secret_columns():
        attr = getattr(model, column)
        last = None
        pk = model.__mapper__.primary_key[0]
        while True:
            stmt = select(model).where(attr.is_not(None)).order_by(pk).limit(batch)
            if last is not None:
                stmt = stmt.where(pk > last)
            rows = list(s.scalars(stmt))
            if not rows:
                break
            for row in rows:
                if box.key_id(getattr(row, column)) != box.primary_key_id:
                    box.seal(row, column, box.open(row, column))
                    done += 1
            last = getattr(rows[-1], pk.key)
            s.flush()
    return done
