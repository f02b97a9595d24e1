"""Storage: models, engines, upserts and schema management."""
