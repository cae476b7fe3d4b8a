"""inbox indexes in the inbox's whole sort order (due_at, created_at, id)

A page of a large department reads its 100 rows in order instead of joining and
sorting every open task of the department.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 15:10:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_tasks_inbox', table_name='tasks')
    op.create_index('ix_tasks_inbox', 'tasks', ['department_id', 'state', 'due_at', 'created_at', 'id'], unique=False)
    op.drop_index('ix_tasks_open', table_name='tasks')
    op.create_index('ix_tasks_open', 'tasks', ['state', 'due_at', 'created_at', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_tasks_open', table_name='tasks')
    op.create_index('ix_tasks_open', 'tasks', ['state', 'due_at'], unique=False)
    op.drop_index('ix_tasks_inbox', table_name='tasks')
    op.create_index('ix_tasks_inbox', 'tasks', ['department_id', 'state', 'due_at'], unique=False)
