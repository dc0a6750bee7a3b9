"""The public JSON API (/api/v1), its OpenAPI documentation, and per-institution API tokens."""
