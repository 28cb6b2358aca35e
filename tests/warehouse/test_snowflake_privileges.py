"""A Snowflake role lacking a privilege a run needs is refused before any Sigma call, naming the privilege,
the object and the grant.

fakesnow has no roles or grants, so the refusals come from a DB-API connection that raises the
connector's own ``ProgrammingError`` with Snowflake's error numbers and messages for the one statement a
role without the privilege is refused (3001 insufficient privileges, 2003 not authorized, 606 no active
warehouse); the success case runs on fakesnow.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from snowflake.connector.errors import OperationalError, ProgrammingError

from airflow_sigma.exceptions import ConfigurationError
from airflow_sigma.warehouse import SnowflakeDialect, Warehouse, WarehouseConnectionError
from airflow_sigma.warehouse.snowflake import STAGE
from tests.fixtures.snowflake import snowflake_warehouse, watched
from tests.reliability.test_warehouse_first import (  # noqa: F401 - fixtures
    discover,
    refused,
    sigma_conn,
    sigma_org_spec,
    warehouse_conn,
)

ROLE = "SIGMA_LOADER_ROLE"


class RefusingConnection:
    """A Snowflake DB-API connection (as the connector's) for a role refused one statement: the first
    statement starting with ``refused`` raises ``error``; the others succeed."""

    def __init__(
        self, refused: str, error: Exception, current: tuple[Any, ...] = (ROLE, "SIGMA_DB", "ANALYTICS")
    ):
        self.refused, self.error, self.current = refused, error, current
        self.database, self.schema, self.warehouse, self.role = "SIGMA_DB", "ANALYTICS", "SIGMA_WH", ROLE
        self.statements: list[str] = []

    def cursor(self) -> RefusingCursor:
        return RefusingCursor(self)

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def close(self) -> None: ...


class RefusingCursor:
    rowcount = -1

    def __init__(self, connection: RefusingConnection) -> None:
        self.connection = connection
        self.rows: list[tuple[Any, ...]] = []

    def execute(self, sql: str, params: Any = None) -> None:
        self.connection.statements.append(sql)
        if sql.startswith(self.connection.refused):
            raise self.connection.error
        self.rows = [self.connection.current] if sql.startswith("SELECT CURRENT_ROLE()") else [(1,)]

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self.rows

    def close(self) -> None: ...


def insufficient(schema: str = "ANALYTICS") -> ProgrammingError:
    return ProgrammingError(
        msg=f"SQL access control error:\nInsufficient privileges to operate on schema '{schema}'",
        errno=3001,
        sqlstate="42501",
    )


NO_WAREHOUSE = ProgrammingError(
    msg="No active warehouse selected in the current session.  Select an active warehouse with the "
    "'use warehouse' command.\n",
    errno=606,
    sqlstate="57P03",
)
UNSEEN_SCHEMA = ProgrammingError(
    msg="SQL compilation error:\nSchema 'SIGMA_DB.ANALYTICS' does not exist or not authorized.",
    errno=2003,
    sqlstate="02000",
)

CASES: dict[str, tuple[str, Exception, tuple[str, ...]]] = {
    "create-stage": (
        "CREATE TEMPORARY STAGE",
        insufficient(),
        (
            f"Snowflake role {ROLE} lacks CREATE STAGE on schema SIGMA_DB.ANALYTICS",
            f"GRANT CREATE STAGE ON SCHEMA SIGMA_DB.ANALYTICS TO ROLE {ROLE}",
            f"GRANT USAGE ON SCHEMA SIGMA_DB.ANALYTICS TO ROLE {ROLE}",
            "Insufficient privileges to operate on schema 'ANALYTICS'",
        ),
    ),
    "create-table": (
        "CREATE TEMPORARY TABLE",
        insufficient(),
        (
            "lacks CREATE TABLE on schema SIGMA_DB.ANALYTICS",
            f"GRANT CREATE TABLE ON SCHEMA SIGMA_DB.ANALYTICS TO ROLE {ROLE}",
        ),
    ),
    "warehouse": (
        "INSERT INTO sigma_privilege_check",
        NO_WAREHOUSE,
        (
            "lacks USAGE on warehouse SIGMA_WH (it does not exist or",
            f"GRANT USAGE ON WAREHOUSE SIGMA_WH TO ROLE {ROLE}",
        ),
    ),
    "schema-unseen": (
        "CREATE TEMPORARY TABLE",
        UNSEEN_SCHEMA,
        (
            "lacks USAGE on schema SIGMA_DB.ANALYTICS (it does not exist or",
            f"GRANT USAGE ON DATABASE SIGMA_DB TO ROLE {ROLE}; "
            f"GRANT USAGE ON SCHEMA SIGMA_DB.ANALYTICS TO ROLE {ROLE}.",
        ),
    ),
    "create-schema": (
        "CREATE SCHEMA IF NOT EXISTS",
        ProgrammingError(msg="Insufficient privileges to operate on database 'SIGMA_DB'", errno=3001),
        (
            "lacks CREATE SCHEMA on database SIGMA_DB",
            f"GRANT CREATE SCHEMA ON DATABASE SIGMA_DB TO ROLE {ROLE}",
        ),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_missing_privilege_is_named_with_its_grant(case: str) -> None:
    statement, error, says = CASES[case]
    connection = RefusingConnection(statement, error)
    warehouse = Warehouse(lambda: connection, SnowflakeDialect(), schema="ANALYTICS")
    with pytest.raises(WarehouseConnectionError) as raised:
        warehouse.checked()
    message = str(raised.value)
    assert all(text in message for text in says), message
    assert isinstance(raised.value, ConfigurationError) and not raised.value.retryable
    assert raised.value.__cause__ is error
    assert connection.statements[-1].startswith(statement)  # refused there, nothing after


def test_a_connection_without_a_current_database_is_named() -> None:
    connection = RefusingConnection("nothing is refused", insufficient(), current=(ROLE, None, None))
    with pytest.raises(WarehouseConnectionError, match=f"GRANT USAGE ON DATABASE SIGMA_DB TO ROLE {ROLE}"):
        Warehouse(lambda: connection, SnowflakeDialect()).checked()


def test_other_errors_are_not_taken_for_a_missing_privilege() -> None:
    dropped = OperationalError(msg="Failed to execute request: connection reset", errno=250003)
    connection = RefusingConnection("CREATE TEMPORARY STAGE", dropped)
    with pytest.raises(OperationalError):
        Warehouse(lambda: connection, SnowflakeDialect()).checked()


def test_the_checks_pass_on_fakesnow_and_run_what_a_run_needs(fake_snowflake: Callable[[], Any]) -> None:
    statements: list[str] = []
    base = snowflake_warehouse(fake_snowflake, schema="ANALYTICS")
    warehouse = Warehouse(watched(base.connect, lambda cursor, sql: statements.append(sql)), base.dialect)
    assert warehouse.checked() is warehouse
    assert warehouse.checked() is warehouse  # twice: the stage fakesnow keeps beyond the session is reused
    assert f"CREATE TEMPORARY STAGE IF NOT EXISTS {STAGE}" in statements
    assert "INSERT INTO sigma_privilege_check (checked) VALUES (1)" in statements


def test_a_missing_privilege_fails_the_task_before_any_sigma_call(
    sigma_server: Any,
    sigma_conn: str,  # noqa: F811 - the fixture imported above
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through the operator and the Airflow SnowflakeHook, whose ``snowflake.connector.connect`` returns
    a connection for a role without CREATE STAGE."""
    import snowflake.connector

    connection = RefusingConnection("CREATE TEMPORARY STAGE", insufficient())
    monkeypatch.setattr(snowflake.connector, "connect", lambda **kwargs: connection)
    conn_id = warehouse_conn(
        monkeypatch,
        {
            "conn_type": "snowflake",
            "login": "SIGMA_LOADER",
            "schema": "ANALYTICS",
            "extra": json.dumps(
                {"account": "acme", "warehouse": "SIGMA_WH", "database": "SIGMA_DB", "role": ROLE}
            ),
        },
    )
    refused(lambda: discover(sigma_conn, conn_id), "lacks CREATE STAGE", "GRANT CREATE STAGE ON SCHEMA")
    assert sigma_server.stats.requests == 0


def test_tables_in_another_schema_than_the_sessions_are_checked_there() -> None:
    """The operators' ``schema`` holds the tables; the session's schema the temporary tables and stage.
    (fakesnow cannot create a temporary table outside the session's schema: DuckDB keeps them in one
    catalog; Snowflake can.)"""
    refused_there = RefusingConnection(
        'CREATE TEMPORARY TABLE "SIGMA_DB"."REPORTING"', insufficient("REPORTING")
    )
    with pytest.raises(WarehouseConnectionError, match=r"lacks CREATE TABLE on schema SIGMA_DB\.REPORTING"):
        Warehouse(lambda: refused_there, SnowflakeDialect(), schema="REPORTING").checked()
    allowed = RefusingConnection("nothing is refused", insufficient())
    Warehouse(lambda: allowed, SnowflakeDialect(), schema="REPORTING").checked()
    start = allowed.statements.index('CREATE SCHEMA IF NOT EXISTS "REPORTING"')
    assert allowed.statements[start + 1 : start + 3] == [
        'CREATE TEMPORARY TABLE "SIGMA_DB"."REPORTING".sigma_privilege_check (checked INTEGER)',
        'DROP TABLE "SIGMA_DB"."REPORTING".sigma_privilege_check',
    ]
