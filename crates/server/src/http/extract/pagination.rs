//! `?page=&limit=` (spec §1.3): page 1..=2³¹−1 (the document's int32), limit 1..=100; out of
//! range is a 400, never clamped or wrapped.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::AppError;
use crate::http::envelope::PageMeta;
use crate::store::Page;

/// Validated pagination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pagination(pub Page);

/// The query parameters as documented.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number, from 1 (default 1).
    #[param(value_type = Option<i32>, minimum = 1, maximum = 2147483647)]
    pub page: Option<String>,
    /// Items per page, 1..100 (default 20).
    #[param(value_type = Option<i32>, minimum = 1, maximum = 100)]
    pub limit: Option<String>,
}

impl Pagination {
    /// The list `metadata` for this page.
    pub fn meta(&self, total: u64) -> PageMeta {
        PageMeta { page: self.0.page, limit: self.0.limit, total }
    }

    /// Parses the raw query string's `page` and `limit` (through `PageQuery`, the struct the
    /// document publishes).
    pub fn from_query(query: Option<&str>) -> Result<Self, AppError> {
        let q: PageQuery = crate::http::extract::query::parse_query(query)?;
        let page = match q.page {
            None => 1,
            Some(v) => {
                v.parse::<i32>().ok().filter(|p| *p >= 1).and_then(|p| u32::try_from(p).ok()).ok_or_else(
                    || {
                        AppError::BadRequest(format!(
                            "page: must be an integer from 1 to {}, got {v:?}",
                            i32::MAX
                        ))
                    },
                )?
            }
        };
        let limit = match q.limit {
            None => 20,
            Some(v) => v.parse().ok().filter(|l| (1..=100).contains(l)).ok_or_else(|| {
                AppError::BadRequest(format!("limit: must be an integer from 1 to 100, got {v:?}"))
            })?,
        };
        Ok(Self(Page { page, limit }))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Pagination {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Self::from_query(parts.uri.query())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(Pagination::from_query(None).unwrap().0, Page { page: 1, limit: 20 });
        assert_eq!(Pagination::from_query(Some("page=3&limit=100")).unwrap().0, Page { page: 3, limit: 100 });
        assert_eq!(Pagination::from_query(Some("page=2147483647")).unwrap().0.page, 2_147_483_647);
        for bad in [
            "page=0",
            "limit=0",
            "limit=101",
            "page=x",
            "limit=-1",
            "page=1.5",
            "page=2147483648",
            "page=4294967295",
            "page=4294967296",
            "limit=4294967297",
        ] {
            assert!(Pagination::from_query(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(
            Pagination::from_query(Some("page=%32&limit=1%30")).unwrap().0,
            Page { page: 2, limit: 10 }
        );
    }
}
