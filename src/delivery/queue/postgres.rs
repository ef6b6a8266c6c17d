//! [`PostgresQueue`]: work in progress.
