"""weekly reports (周通报): one row per week, kept as history

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 07:31:02.295879

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('weekly_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('week_start', sa.Date(), nullable=False),
    sa.Column('built_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('built_by_id', sa.Integer(), nullable=True),
    sa.Column('figures', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['built_by_id'], ['users.id'], name='fk_weekly_reports_built_by_id'),
    sa.PrimaryKeyConstraint('id', name='pk_weekly_reports'),
    sa.UniqueConstraint('week_start', name='uq_weekly_reports_week_start')
    )


def downgrade():
    op.drop_table('weekly_reports')
