"""analyst drafts (modeler, form and catalog editors): one draft per process key

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('process_drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('process_key', sa.String(length=128), nullable=False),
    sa.Column('base_version', sa.Integer(), nullable=True),
    sa.Column('bpmn_xml', sa.Text(), nullable=False),
    sa.Column('forms', sa.JSON(), nullable=False),
    sa.Column('catalog_yaml', sa.Text(), nullable=True),
    sa.Column('bpmn_problems', sa.JSON(), nullable=False),
    sa.Column('catalog_problems', sa.JSON(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name='fk_process_drafts_updated_by_id'),
    sa.PrimaryKeyConstraint('id', name='pk_process_drafts'),
    sa.UniqueConstraint('process_key', name='uq_process_drafts_process_key')
    )


def downgrade():
    op.drop_table('process_drafts')
