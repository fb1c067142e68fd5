//! Operations: readiness of the store behind the server.

use crate::app::App;
use crate::error::{AppError, AppResult};

/// Readiness: the store is reachable and every migration applied; names the backend.
pub async fn readiness(state: &App) -> AppResult<&'static str> {
    match state.store.ready().await {
        Ok(true) => Ok(state.store.backend()),
        Ok(false) => Err(AppError::Unavailable("Migrations pending".into())),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(AppError::Unavailable("Store unavailable".into()))
        }
    }
}
