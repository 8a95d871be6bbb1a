"""Alembic migrations of Marquee's database (``marquee.schema`` runs them; no alembic.ini needed)."""
