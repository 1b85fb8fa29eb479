"""The GX-on-DuckDB shim (validation/gx_sql.py) against real GX 1.24, duckdb_engine and DuckDB files."""

from __future__ import annotations

import inspect

import duckdb
import pytest

from validation import gx_sql
from validation.gx_engine import ValidationError, import_gx


@pytest.fixture
def writer(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE TABLE kept (x INTEGER)")
    con.execute("BEGIN TRANSACTION")
    con.execute("INSERT INTO kept VALUES (1)")
    con.execute("CREATE TEMP TABLE staged AS SELECT range AS _rec, 'id' || (range % 999) AS id, "
                "CASE WHEN range % 100 = 7 THEN 95.5 ELSE 10.0 END AS lat, "
                "CASE WHEN range % 250 = 3 THEN 'x1' ELSE '12' END AS n FROM range(1000)")
    yield con
    con.close()


def test_gx_still_returns_the_result_outside_its_connection_block():
    # The shim exists because of exactly this shape; if GX changes it, revisit (and maybe drop) the shim.
    from great_expectations.execution_engine import SqlAlchemyExecutionEngine

    source = inspect.getsource(SqlAlchemyExecutionEngine.execute_query)
    body = source[source.index("with self.get_connection()"):]
    assert body.splitlines()[2].strip() == "" and body.rstrip().endswith("return result"), source
    assert import_gx().__version__ == "1.24.1"


def _not_null_on_own_connection(engine_class, path):
    # duckdb_engine with a connection of its own (the plain setup upstream GX users have).
    import sqlalchemy as sa
    from great_expectations.core.batch import Batch, LegacyBatchDefinition
    from great_expectations.core.id_dict import IDDict
    from great_expectations.execution_engine.sqlalchemy_batch_data import SqlAlchemyBatchData
    from great_expectations.validator.validator import Validator

    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE t AS SELECT range AS id FROM range(10)")
    engine = engine_class(engine=sa.create_engine(f"duckdb:///{path}"))
    data = SqlAlchemyBatchData(execution_engine=engine, table_name="t")
    batch = Batch(data=data, batch_definition=LegacyBatchDefinition("r", "d", "t", IDDict({})))
    try:
        [result] = Validator(execution_engine=engine, batches=[batch]).graph_validate(
            configurations=[import_gx().expectations.ExpectColumnValuesToNotBeNull(column="id").configuration])
    finally:
        engine.engine.dispose()
    return result


def test_unshimmed_engine_cannot_read_duckdb_and_the_shim_can(tmp_path):
    # If the first assert ever fails, GX fixed it upstream and DuckDBExecutionEngine.execute_query can go.
    from great_expectations.execution_engine import SqlAlchemyExecutionEngine

    plain = _not_null_on_own_connection(SqlAlchemyExecutionEngine, tmp_path / "a.duckdb")
    assert not plain.success and "IndexError" in str(plain.exception_info), plain.exception_info
    shimmed = _not_null_on_own_connection(gx_sql._engine_class(), tmp_path / "b.duckdb")
    assert shimmed.success and shimmed.result["element_count"] == 10


def test_expectations_run_on_the_writers_temp_table_inside_its_transaction(writer):
    gx = import_gx()
    e = gx.expectations
    results = gx_sql.validate_table(writer, "staged", [
        e.ExpectColumnValuesToBeBetween(column="lat", min_value=-90, max_value=90),
        e.ExpectColumnValuesToMatchRegex(column="n", regex=r"^[0-9]+$"),
        e.ExpectColumnValuesToBeUnique(column="id"),
        e.ExpectTableRowCountToEqual(value=1000),
    ], index_columns=["_rec"])
    assert [r.success for r in results] == [False, False, False, True]
    assert [r.result["unexpected_count"] for r in results[:3]] == [10, 4, 2]
    # GX's unexpected_index_list names every failing row, fetched from DuckDB.
    listed = [sorted(row["_rec"] for row in r.result["unexpected_index_list"]) for r in results[:3]]
    assert listed == [[7 + 100 * i for i in range(10)], [3, 253, 503, 753], [0, 999]]
    # GX's begin/commit/rollback/close did not touch the writer's transaction or temp table.
    assert writer.execute("SELECT count(*) FROM kept").fetchone()[0] == 1
    writer.execute("ROLLBACK")
    assert writer.execute("SELECT count(*) FROM kept").fetchone()[0] == 0


def test_an_expectation_gx_cannot_evaluate_raises(writer):
    gx = import_gx()
    with pytest.raises(ValidationError, match="no_such_column"):
        gx_sql.validate_table(writer, "staged", [gx.expectations.ExpectColumnValuesToNotBeNull(
            column="no_such_column")])

