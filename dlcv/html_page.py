"""The HTML page every dlcv page is (a run's report.html, the runs table's runs.html): self-contained, one
style, no script, nothing fetched.

    >>> page("a run", "<p>hello</p>").startswith('<!DOCTYPE html>\\n<html lang="en"><head><meta charset="utf-8">')
    True
"""
from __future__ import annotations

import html

STYLE = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f4f4f4}.note{color:#666}pre{background:#f7f7f7;padding:1em;overflow:auto}"""


def page(title: str, body: str, style: str = "") -> str:
    """A whole page: ``title`` (escaped here), the common style plus ``style``, and ``body`` as given."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}{style}</style></head><body>\n{body}\n</body></html>\n")
