"""Pure rules for a source's status and the words that explain them.

The status rule and the display order are written once, over a small :class:`Logic`, and
evaluated two ways: in Python for one source (:func:`effective_status`, :func:`display_key`)
and as SQL expressions (:func:`status_sql`, :func:`display_order_sql`), so the database can
count and order a workspace's sources by the very same rule without handing every row to
Python. Tests check that both agree on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import BindParameter, ColumnElement, bindparam, case, false, literal, or_
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.types import String

from bot.domain import Status

# Stored verdicts the clock cannot undo: only a new connection ends them.
STANDING = (str(Status.EXPIRED), str(Status.REVOKED))
# Display order: what needs a person first, then what will soon, then the rest.
DISPLAY_RANK = {Status.EXPIRED: 0, Status.REVOKED: 0, Status.EXPIRING: 1, Status.ACTIVE: 2}


class Logic(Protocol):
    """The few operations the rules are written with; one implementation per evaluator."""

    def first(self, cases: Sequence[tuple[Callable[[], Any], Any]], otherwise: Any) -> Any:
        """The value of the first case whose condition holds (conditions are tried lazily)."""
        ...

    def among(self, value: Any, options: Collection[str]) -> Any: ...
    def either(self, a: Any, b: Any) -> Any: ...
    def both(self, a: Any, b: Any) -> Any: ...
    def missing(self, value: Any) -> Any: ...
    def rank(self, status: Any) -> Any: ...
    def fold(self, name: Any) -> Any: ...


def warning_window(warning_days: Sequence[int]) -> timedelta:
    """How far ahead "expiring soon" looks: the largest of the workspace's warning days (none:
    never). The one definition, used by /sources, the App Home, notices and the digest alike."""
    return timedelta(days=max(warning_days, default=0))


def _renews(logic: Logic, renewable: Any, network: Any, configured: Collection[str]) -> Any:
    """A source renews by itself when its tokens can be renewed and the operator configured
    the network's app that renews them."""
    return logic.both(renewable, logic.among(network, configured))


def _status(logic: Logic, stored: Any, expires_at: Any, renews: Any, now: Any, soon: Any) -> Any:
    """THE status rule: the stored verdict, or what the clock says about an unscanned source
    (``soon``: the end of the warning window, :func:`warning_window` after ``now``).

    A source that renews by itself is only as bad as the scan found it (expiring while its
    renewal keeps failing); one that cannot is judged by its expiry.
    """
    return logic.first(
        [
            (lambda: logic.either(logic.among(stored, STANDING), renews), stored),
            (lambda: logic.missing(expires_at), str(Status.ACTIVE)),
            (lambda: expires_at <= now, str(Status.EXPIRED)),
            (lambda: expires_at <= soon, str(Status.EXPIRING)),
        ],
        otherwise=str(Status.ACTIVE),
    )


def _display_key(logic: Logic, status: Any, network: Any, name: Any, id: Any) -> tuple[Any, ...]:
    """THE display order: status rank, then network, then name (ASCII case folded), then id."""
    return (logic.rank(status), network, logic.fold(name), id)


# --- in Python ------------------------------------------------------------------------------

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class _InPython:
    def first(self, cases: Sequence[tuple[Callable[[], Any], Any]], otherwise: Any) -> Any:
        for holds, value in cases:
            if holds():
                return value
        return otherwise

    def among(self, value: Any, options: Collection[str]) -> bool:
        return value in options

    def either(self, a: Any, b: Any) -> bool:
        return bool(a or b)

    def both(self, a: Any, b: Any) -> bool:
        return bool(a and b)

    def missing(self, value: Any) -> bool:
        return value is None

    def rank(self, status: Any) -> int:
        return DISPLAY_RANK[Status(status)]

    def fold(self, name: Any) -> str:
        # ASCII only, as the databases' lower() does under the collations used here.
        return str(name).translate(_ASCII_LOWER)


PYTHON = _InPython()


def effective_status(
    stored: str,
    expires_at: datetime | None,
    now: datetime,
    warning_days: Sequence[int],
    renewable: bool = False,
) -> Status:
    """The status to show for one source (``renewable``: it renews by itself)."""
    Status(stored)  # an unknown stored status is a bug, not a status
    soon = now + warning_window(warning_days)
    return Status(_status(PYTHON, stored, expires_at, renewable, now, soon))


def renews_by_itself(renewable: bool, network: str, configured: Collection[str]) -> bool:
    return bool(_renews(PYTHON, renewable, network, configured))


def display_key(status: Status, network: str, name: str, id: int) -> tuple[Any, ...]:
    """The sort key of a source in every list people see."""
    return _display_key(PYTHON, status, network, name, id)


# --- in SQL ---------------------------------------------------------------------------------


class ascii_lower(GenericFunction[str]):
    """lower() folding ASCII letters only, with code point order, in every database."""

    type = String()
    inherit_cache = True


@compiles(ascii_lower)
def _ascii_lower_default(element: ascii_lower, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite's lower() folds ASCII only; its default collation compares code points.
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(ascii_lower, "postgresql")
def _ascii_lower_postgresql(element: ascii_lower, compiler: SQLCompiler, **kw: Any) -> str:
    # Under the "C" collation lower() folds ASCII only, and the result sorts by code point.
    return f'lower(({compiler.process(element.clauses, **kw)}) COLLATE "C")'


class _InSql:
    def first(
        self, cases: Sequence[tuple[Callable[[], Any], Any]], otherwise: Any
    ) -> ColumnElement[Any]:
        return case(*((holds(), _sql(value)) for holds, value in cases), else_=_sql(otherwise))

    def among(self, value: Any, options: Collection[str]) -> ColumnElement[bool]:
        return value.in_(sorted(options)) if options else false()

    def either(self, a: Any, b: Any) -> ColumnElement[bool]:
        return or_(a, b)

    def both(self, a: Any, b: Any) -> ColumnElement[bool]:
        return a & b  # type: ignore[no-any-return]

    def missing(self, value: Any) -> ColumnElement[bool]:
        return value.is_(None)  # type: ignore[no-any-return]

    def rank(self, status: Any) -> ColumnElement[int]:
        return case({str(k): v for k, v in DISPLAY_RANK.items()}, value=status, else_=9)

    def fold(self, name: Any) -> ColumnElement[str]:
        return ascii_lower(name)


def _sql(value: Any) -> Any:
    return literal(value) if isinstance(value, str) else value


SQL = _InSql()


# The bound parameters of :func:`status_sql`'s expression; :func:`status_params` fills them.
STATUS_NOW: BindParameter[datetime] = bindparam("status_now")
STATUS_SOON: BindParameter[datetime] = bindparam("status_soon")


def status_sql(source: Any, configured: Collection[str]) -> ColumnElement[str]:
    """:func:`effective_status` as a SQL expression over ``source``'s columns (the model
    ``Source`` or an alias); ``configured`` names the networks whose apps the operator
    configured (their sources renew by themselves). The time and the warning days are
    parameters (:func:`status_params`), so a statement built once serves every request."""
    renews = _renews(SQL, source.renewable, source.network, configured)
    result: ColumnElement[str] = _status(
        SQL, source.status, source.expires_at, renews, STATUS_NOW, STATUS_SOON
    )
    return result


def status_params(now: datetime, warning_days: Sequence[int]) -> dict[str, datetime]:
    """The parameters of :func:`status_sql`: the time, and the workspace's warning days."""
    return {"status_now": now, "status_soon": now + warning_window(warning_days)}


def display_order_sql(source: Any, status: ColumnElement[str]) -> list[ColumnElement[Any]]:
    """:func:`display_key` as ORDER BY terms, ``status`` being :func:`status_sql`'s."""
    return list(_display_key(SQL, status, source.network, source.name, source.id))


def short_date(moment: datetime) -> str:
    """'27 Nov': day and month, as people read an expiry date."""
    return f"{moment.day} {moment:%b}"


def long_date(moment: datetime) -> str:
    return f"{moment.day} {moment:%b %Y}"


def expired_reason(network_title: str, expires_at: datetime) -> str:
    return f"{network_title} connection expired on {short_date(expires_at)}"


def expires_in(expires_at: datetime, now: datetime) -> str:
    """'expires in 3 days', 'expires in 1 day', 'expires in 5 hours': whole units, rounded down."""
    left = expires_at - now
    if left <= timedelta(0):
        return f"expired on {short_date(expires_at)}"
    if left < timedelta(hours=1):
        return "expires within the hour"
    if left < timedelta(days=1):
        hours = int(left.total_seconds() // 3600)
        return f"expires in {hours} hour{'s' if hours != 1 else ''}"
    days = left.days
    return f"expires in {days} day{'s' if days != 1 else ''}"
