"""case migration and incident actions: no new tables

Migration runs and incident actions are recorded in the audit log (case.migrated
per case, process.migration_run per run, incident.retried / incident.skipped),
and incidents already carry resolved_at / resolved_by_id / resolution (0006), so
this revision changes no schema. It keeps its place in the chain (0011 -> 0012).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 09:00:00

"""


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
