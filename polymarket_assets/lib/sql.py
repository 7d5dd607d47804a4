"""SQL literals for DuckDB statements built as text: paths, globs and settings quoted once, the same way."""

from collections.abc import Iterable


def sql_text(value: str) -> str:
    """`value` as a SQL string literal (single quotes doubled)."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_list(values: Iterable[str]) -> str:
    """The values as a SQL list of string literals, e.g. the files of a `read_parquet([...])`."""
    return "[" + ", ".join(sql_text(v) for v in values) + "]"
