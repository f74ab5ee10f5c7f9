"""Users, roles, password and token authentication."""
