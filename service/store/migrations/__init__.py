"""Each backend's versioned migrations: `sqlite` (sqlite-utils Migrations) and `postgres` (huashu_migrations)."""
