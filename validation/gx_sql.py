"""Great Expectations' SQL engine on the warehouse's own DuckDB connection: expectations compile to SQL
that DuckDB runs over the real (temp) tables, inside the caller's open transaction.

Two things stand between GX 1.24 and DuckDB, and this module is the only place that deals with them:

* ``SqlAlchemyExecutionEngine.execute_query`` returns its result after leaving ``with
  self.get_connection()``; by then duckdb_engine's cursor has no rows left and every metric fails with
  IndexError. ``DuckDBExecutionEngine.execute_query`` buffers the rows inside the block (the only change).
  tests/validation/test_gx_sql.py fails if GX's method changes underneath, so the shim is revisited.
* DuckDB allows one configuration per database file per process, the staged batch is a temp table of
  the writer's connection and the load is one uncommitted transaction: a second connection would see
  none of it. So the SQLAlchemy engine's one connection (StaticPool) *is* the writer's connection,
  wrapped so that SQLAlchemy's begin/commit/rollback/close leave the writer's transaction alone.

GX's unexpected-index *query* is not runnable SQL on this engine (bound values rendered as Python reprs:
datetime.date(...), "Côte d'Ivoire", doubled backslashes), so callers take the failing rows from its
unexpected_index_list (COMPLETE format), which GX fetched from DuckDB itself.

GX also has no regex for an unknown dialect; duckdb_engine's dialect is PostgreSQL's, so the engine names
that dialect module. Its regex operator ``~`` is a full match in DuckDB, so our regexes are anchored
(^...$) and mean the same in both.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import duckdb

from validation.gx_engine import ValidationError, exception_messages, shared_context


class _WritersConnection:
    """Mixin for duckdb_engine.ConnectionWrapper: the writer owns the transaction and the connection."""

    def begin(self) -> None:      # duckdb_engine's do_begin; the load's transaction is already open
        pass

    def commit(self) -> None:
        pass

    def rollback(self) -> None:   # SQLAlchemy rolls back on every connection close
        pass

    def close(self) -> None:
        pass


def _engine_class():
    from great_expectations.execution_engine import SqlAlchemyExecutionEngine

    class DuckDBExecutionEngine(SqlAlchemyExecutionEngine):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            from sqlalchemy.dialects import postgresql

            # What GX uses for PostgreSQL (regex operators, type names); duckdb_engine speaks that dialect.
            self.dialect_module = postgresql

        def execute_query(self, query):
            with self.get_connection() as connection:
                result = self._execute_query_with_recovery(connection, query)
                # Buffered before the connection goes back: duckdb_engine's cursor is empty after that.
                return result.freeze()() if result.returns_rows else result

    return DuckDBExecutionEngine


def execution_engine(con: duckdb.DuckDBPyConnection):
    """A GX SQL execution engine whose only connection is `con` (temp tables and open transaction included)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import duckdb_engine
    import sqlalchemy as sa
    from sqlalchemy.pool import StaticPool

    wrapper = type("WritersConnection", (_WritersConnection, duckdb_engine.ConnectionWrapper), {})(con)
    # qmark: GX inlines `?` parameters into its unexpected-index queries; duckdb_engine's default `$1` it
    # leaves in place, and such a query cannot be run again.
    engine = sa.create_engine("duckdb://", creator=lambda: wrapper, poolclass=StaticPool,
                              pool_reset_on_return=None, paramstyle="qmark")
    return _engine_class()(engine=engine)


def validate_table(con: duckdb.DuckDBPyConnection, table: str, expectations: Sequence[Any], *,
                   schema: str = "temp", index_columns: Sequence[str] = (), all_rows: int | None = None,
                   result_format: str = "BASIC") -> list:
    """Run GX expectations on `schema.table` over `con`; their ExpectationValidationResults, in order.

    With `index_columns`, map expectations return failing rows' values of those columns in
    `unexpected_index_list` (COMPLETE format): GX fetches at most `partial_unexpected_count` of them, so
    pass `all_rows` (the table's row count) when every one is needed. Raises ValidationError when GX
    could not evaluate one.
    """
    from great_expectations.core.batch import Batch, LegacyBatchDefinition
    from great_expectations.core.id_dict import IDDict
    from great_expectations.execution_engine.sqlalchemy_batch_data import SqlAlchemyBatchData
    from great_expectations.validator.validator import Validator

    engine = execution_engine(con)
    data = SqlAlchemyBatchData(execution_engine=engine, table_name=table, schema_name=schema)
    batch = Batch(data=data, batch_definition=LegacyBatchDefinition(
        datasource_name="riskwatch", data_connector_name="duckdb", data_asset_name=table,
        batch_identifiers=IDDict({})))
    # The shared context only to turn GX's progress bars off.
    validator = Validator(execution_engine=engine, batches=[batch], data_context=shared_context())
    fmt: dict[str, Any] = {"result_format": result_format}
    if index_columns:
        fmt.update(result_format="COMPLETE", unexpected_index_column_names=list(index_columns),
                   return_unexpected_index_query=False)
    if all_rows is not None:
        fmt["partial_unexpected_count"] = max(all_rows, 1)
    try:
        results = validator.graph_validate(configurations=[e.configuration for e in expectations],
                                           runtime_configuration={"result_format": fmt})
    finally:
        engine.engine.dispose()
    errors = [f"{r.expectation_config.type}: {m}" for r in results for m in exception_messages(r.exception_info)]
    errors += [f"{r.expectation_config.type}: GX returned success={r.success!r}" for r in results
               if r.success not in (True, False)]
    if len(results) != len(expectations):
        errors.append(f"{len(expectations)} expectations, {len(results)} results")
    if errors:
        raise ValidationError(f"{schema}.{table}: GX could not evaluate: " + "; ".join(errors))
    return results

