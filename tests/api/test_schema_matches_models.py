"""The Alembic migrations build exactly the schema the models describe (a model change without
its migration, or a migration that drifts from the model, fails here on both backends)."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.extensions import db


def test_the_migrated_schema_equals_the_models(app):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []
