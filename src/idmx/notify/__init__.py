"""Following plan items and data requests by e-mail: follows, the outbox, and `idmx notify`."""
