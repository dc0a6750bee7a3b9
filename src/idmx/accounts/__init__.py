"""Staff accounts: passwords, sessions, roles and the guards on every staff route."""
