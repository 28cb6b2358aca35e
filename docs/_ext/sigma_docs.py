"""Sphinx directives that render reference tables straight from the code, so the docs cannot drift.

* ``.. sigma-tables::`` renders every table of :data:`airflow_sigma.warehouse.tables.ALL_TABLES`
  (one section per table: its documentation, primary key and columns). Optional arguments name the
  base names to render (default: all, in definition order). Each section gets the label
  ``table-<base_name>`` for ``:ref:``.
* ``.. sigma-column-types::`` renders the SQL type of each portable column type per warehouse dialect.
* ``.. sigma-cloud-hosts::`` renders the cloud keys of :data:`airflow_sigma.api.regions.CLOUD_HOSTS`
  with their cloud, region and API host.

The directives build reStructuredText and parse it in place, so the output looks like hand-written
sections and tables. A table or column without documentation, or a cloud key this file cannot
describe, is reported as an error, which fails the ``-W`` build.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

# Cloud and region of each key of CLOUD_HOSTS (Sigma's names; the hosts themselves come from the code).
CLOUD_REGIONS: dict[str, tuple[str, str]] = {
    "aws-us-west": ("AWS", "US West (Oregon)"),
    "aws-us-east": ("AWS", "US East (N. Virginia)"),
    "aws-ca": ("AWS", "Canada (Central)"),
    "aws-eu": ("AWS", "Europe (Frankfurt)"),
    "aws-uk": ("AWS", "UK (London)"),
    "aws-au": ("AWS", "Asia Pacific (Sydney)"),
    "azure-us": ("Azure", "US (Virginia)"),
    "azure-eu": ("Azure", "Europe (Netherlands)"),
    "azure-ca": ("Azure", "Canada (Toronto)"),
    "azure-uk": ("Azure", "UK (London)"),
    "gcp-us": ("GCP", "US (Iowa)"),
    "gcp-sa": ("GCP", "Saudi Arabia (Dammam)"),
}

_RST_SPECIAL = re.compile(r"([\\*_|`<>\[\]])")
_BACKTICKED = re.compile(r"`([^`]+)`")


def rst_text(text: str) -> str:
    """Plain documentation text as reStructuredText: `x` becomes a literal, markup is escaped.

    :param text: a docstring-like sentence from the code (Markdown-style backticks allowed).
    """
    pieces: list[str] = []
    position = 0
    for match in _BACKTICKED.finditer(text):
        pieces.append(_RST_SPECIAL.sub(r"\\\1", text[position : match.start()]))
        pieces.append(f"``{match.group(1)}``")
        position = match.end()
    pieces.append(_RST_SPECIAL.sub(r"\\\1", text[position:]))
    return " ".join("".join(pieces).split())


def list_table(header: Iterable[str], rows: Iterable[Iterable[str]], widths: str) -> list[str]:
    """Lines of a ``list-table`` directive (cells are already reStructuredText).

    :param header: the header cells.
    :param rows: the body rows.
    :param widths: the ``:widths:`` option, e.g. ``"20 10 70"``.
    """
    lines = [".. list-table::", "   :header-rows: 1", f"   :widths: {widths}", ""]
    for row in [list(header), *(list(r) for r in rows)]:
        for n, cell in enumerate(row):
            lines.append(f"   {'* -' if n == 0 else '  -'} {cell}".rstrip())
    lines.append("")
    return lines


class _GeneratedRst(SphinxDirective):
    """Parse generated reStructuredText in place of the directive."""

    def render(self, lines: list[str]) -> list[nodes.Node]:
        source = self.get_source_info()[0] or self.env.docname
        content = StringList()
        for n, line in enumerate(lines):
            content.append(line, f"{source}<{self.name}>", n)
        holder = nodes.Element()
        nested_parse_with_titles(self.state, content, holder)
        return list(holder.children)

    def fail(self, message: str) -> list[nodes.Node]:
        return [self.state.document.reporter.error(message, line=self.lineno)]


class SigmaTablesDirective(_GeneratedRst):
    """``.. sigma-tables:: [base_name ...]``: a section per warehouse table."""

    optional_arguments = 100
    has_content = False

    def run(self) -> list[nodes.Node]:
        from airflow_sigma.warehouse.tables import ALL_TABLES

        by_name = {table.base_name: table for table in ALL_TABLES}
        wanted = self.arguments or list(by_name)
        unknown = [name for name in wanted if name not in by_name]
        if unknown:
            return self.fail(f"sigma-tables: unknown tables {unknown}; known: {sorted(by_name)}")
        lines: list[str] = []
        problems: list[str] = []
        for name in wanted:
            table = by_name[name]
            if not table.doc.strip():
                problems.append(f"table {name!r} has no doc")
            title = f"sigma_{table.base_name}"
            key = ", ".join(f"``{column}``" for column in table.key) or "none (staging table)"
            lines += [f".. _table-{table.base_name}:", "", title, "~" * len(title), ""]
            lines += [rst_text(table.doc), "", f"**Primary key:** {key}", ""]
            rows = []
            for column in table.columns:
                if not column.doc.strip():
                    problems.append(f"column {name}.{column.name} has no doc")
                flags = "primary key" if column.name in table.key else ("" if column.nullable else "not null")
                rows.append([f"``{column.name}``", column.type, flags, rst_text(column.doc)])
            lines += list_table(["Column", "Type", "Constraint", "Meaning"], rows, "22 10 12 56")
        if problems:
            return self.fail("sigma-tables: " + "; ".join(problems))
        return self.render(lines)


class SigmaColumnTypesDirective(_GeneratedRst):
    """``.. sigma-column-types::``: portable column types and their SQL type per dialect."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from airflow_sigma.warehouse.dialects import (
            BigQueryDialect,
            Dialect,
            PostgresDialect,
            SnowflakeDialect,
            SqliteDialect,
        )
        from airflow_sigma.warehouse.tables import COLUMN_TYPES

        dialects: list[tuple[str, type[Dialect]]] = [
            ("SQLite", SqliteDialect),
            ("PostgreSQL", PostgresDialect),
            ("Snowflake", SnowflakeDialect),
            ("BigQuery", BigQueryDialect),
            ("Other (generic)", Dialect),
        ]
        header = ["Type", *(name for name, _ in dialects)]
        rows = [
            [f"``{kind}``", *(f"``{cls.type_names[kind]}``" for _, cls in dialects)] for kind in COLUMN_TYPES
        ]
        return self.render(list_table(header, rows, "12 14 18 18 14 24"))


class SigmaCloudHostsDirective(_GeneratedRst):
    """``.. sigma-cloud-hosts::``: every cloud key with its cloud, region and API host."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from airflow_sigma.api.regions import CLOUD_HOSTS

        missing = sorted(set(CLOUD_HOSTS) - set(CLOUD_REGIONS))
        if missing:
            return self.fail(
                f"sigma-cloud-hosts: cloud keys {missing} are not described in docs/_ext/sigma_docs.py "
                "CLOUD_REGIONS; add their cloud and region there."
            )
        rows = [
            [f"``{key}``", CLOUD_REGIONS[key][0], CLOUD_REGIONS[key][1], f"``{host}``"]
            for key, host in CLOUD_HOSTS.items()
        ]
        return self.render(list_table(["Cloud key", "Cloud", "Region", "API base URL"], rows, "16 10 26 48"))


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("sigma-tables", SigmaTablesDirective)
    app.add_directive("sigma-column-types", SigmaColumnTypesDirective)
    app.add_directive("sigma-cloud-hosts", SigmaCloudHostsDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
