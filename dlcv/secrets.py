"""Passwords in the URLs dlcv is given (a tracking server, a study's database): taken out before anything
is written or said, so that a run folder, a log, an MLflow parameter and the console never hold one.

    >>> redacted("postgresql://me:pa/ss#w?rd@db.example:5432/studies")
    'postgresql://me:***@db.example:5432/studies'
    >>> split_credentials("http://alice:s3cret@127.0.0.1:5000")
    ('http://127.0.0.1:5000', 'alice', 's3cret')
"""
from __future__ import annotations

import re
from urllib.parse import unquote

# scheme://user:password@host...: the user information ends at the last "@" before the host, and a
# password may hold "/", "#" or "?" (databases' URLs are not escaped as a browser's are).
_USER_INFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:@/]*)(?::(?P<password>.*))?@(?P<rest>[^@]*)$",
                        re.S)


def redacted(url: str) -> str:
    """A URL as a message or a file may show it: its password replaced by ``***``. A database URL is read
    as SQLAlchemy (which opens it) reads it, where SQLAlchemy is installed."""
    parsed = _sqlalchemy_url(url)
    if parsed is not None:
        return parsed.render_as_string(hide_password=True) if parsed.password is not None else url
    match = _USER_INFO.match(url)
    if match is None or match["password"] is None:
        return url
    return f"{match['scheme']}{match['user']}:***@{match['rest']}"


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """(the URL without its user and password, the user, the password), decoded; the URL as it is and
    None, None where it holds none."""
    match = _USER_INFO.match(url)
    if match is None:
        return url, None, None
    return f"{match['scheme']}{match['rest']}", unquote(match["user"]), unquote(match["password"] or "") or None


def _sqlalchemy_url(url: str):
    """SQLAlchemy's URL object for a database URL (not http/https), else None."""
    if re.match(r"^https?://", url, re.I):
        return None
    try:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError
    except ImportError:
        return None
    try:
        return make_url(url)
    except (ArgumentError, ValueError):
        return None
