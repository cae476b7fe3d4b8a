"""page indexes: open tasks by deadline, across departments (red/yellow lights, the managers' inbox)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 09:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_tasks_open', 'tasks', ['state', 'due_at'], unique=False)


def downgrade():
    op.drop_index('ix_tasks_open', table_name='tasks')
