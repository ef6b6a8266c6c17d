//! A small connection pool: at most `size` connections, opened lazily,
//! each with its own prepared-statement cache; broken connections are
//! dropped and replaced on the next checkout.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::{Client, Statement};

use super::pg;
use crate::delivery::DeliveryError;

/// Opens one connection (and spawns its driver task).
pub(super) type Connect = Box<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<Client, DeliveryError>> + Send>> + Send + Sync,
>;

/// An open connection and the statements prepared on it.
pub(super) struct PooledClient {
    pub(super) client: Client,
    statements: HashMap<String, Statement>,
}

impl PooledClient {
    /// The prepared statement for `sql`, preparing it on first use.
    pub(super) async fn statement(&mut self, sql: &str) -> Result<Statement, DeliveryError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql).await.map_err(pg)?;
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }
}

pub(super) struct Pool {
    connect: Connect,
    idle: Mutex<Vec<PooledClient>>,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("available", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

/// A checked-out connection; goes back to the pool on drop unless closed.
pub(super) struct Checkout<'a> {
    pool: &'a Pool,
    conn: Option<PooledClient>,
    _permit: OwnedSemaphorePermit,
}

impl Pool {
    pub(super) fn new(connect: Connect, size: usize) -> Self {
        Pool {
            connect,
            idle: Mutex::new(Vec::new()),
            permits: Arc::new(Semaphore::new(size.max(1))),
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<PooledClient>> {
        // The vector is valid between statements; poisoning carries no meaning.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a free slot and returns an open connection.
    pub(super) async fn get(&self) -> Result<Checkout<'_>, DeliveryError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| DeliveryError::Queue("postgres: pool closed".into()))?;
        loop {
            let candidate = self.idle().pop();
            match candidate {
                Some(c) if c.client.is_closed() => continue,
                Some(c) => {
                    return Ok(Checkout {
                        pool: self,
                        conn: Some(c),
                        _permit: permit,
                    });
                }
                None => break,
            }
        }
        let client = (self.connect)().await?;
        Ok(Checkout {
            pool: self,
            conn: Some(PooledClient {
                client,
                statements: HashMap::new(),
            }),
            _permit: permit,
        })
    }
}

impl Checkout<'_> {
    /// The connection.
    pub(super) fn conn(&mut self) -> Result<&mut PooledClient, DeliveryError> {
        self.conn
            .as_mut()
            .ok_or_else(|| DeliveryError::Queue("postgres: connection already returned".into()))
    }
}

impl Drop for Checkout<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take()
            && !c.client.is_closed()
        {
            self.pool.idle().push(c);
        }
    }
}
