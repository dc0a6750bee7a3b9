"""`/staff/institutions` (central team): add an institution, and mark one as succeeded by another."""
