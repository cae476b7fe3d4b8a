"""the moment a deadline's light turns yellow, stored beside it (tasks and cases)

The supervision scan and the lists then find yellow and red rows with an index
instead of working out the light of every open row. Rows migrated here have none
yet; the scheduler works them out on its next scan (and after every calendar change).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 03:00:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('tasks') as batch:
        batch.add_column(sa.Column('warn_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('cases') as batch:
        batch.add_column(sa.Column('warn_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_tasks_warn', 'tasks', ['state', 'warn_at', 'due_at'], unique=False)
    op.create_index('ix_cases_warn', 'cases', ['status', 'warn_at', 'deadline'], unique=False)


def downgrade():
    op.drop_index('ix_cases_warn', table_name='cases')
    op.drop_index('ix_tasks_warn', table_name='tasks')
    with op.batch_alter_table('cases') as batch:
        batch.drop_column('warn_at')
    with op.batch_alter_table('tasks') as batch:
        batch.drop_column('warn_at')
