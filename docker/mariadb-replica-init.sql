-- Run once by the mariadb image when the replica's data directory is created (compose.yml).
-- The reader (MARIADB_USER kefu_ro) may read the application's tables and ask how far behind the
-- replica is (apps/core/replica.py runs SHOW REPLICA STATUS); the server is read-only for it.
GRANT SLAVE MONITOR ON *.* TO 'kefu_ro'@'%';
