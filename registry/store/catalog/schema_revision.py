"""The Alembic head this code expects (kept apart from ``schema.py`` so stdlib-only readers can
import it without SQLAlchemy). A test checks it equals the newest migration's revision."""

SCHEMA_REVISION = "0004"
