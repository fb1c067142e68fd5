//! Paths the middleware must recognise before routing: the MCP endpoint and its aliases, the
//! ingestion prefix, the discovery documents and the OAuth endpoints a browser client calls.
//! Kept here, below both the middleware and the routes, so neither has to import the other.

/// Every path the MCP endpoint answers on: `/api/mcp`, the same with a trailing slash (clients
/// that append one), and `/api/mcp/mcp` (api.md §11). Only the first is in the OpenAPI document;
/// its description names the aliases.
pub const MCP_PATHS: [&str; 3] = ["/api/mcp", "/api/mcp/", "/api/mcp/mcp"];

/// Ingestion: the recorder calls it from the product's own origin.
pub const INGEST_PREFIX: &str = "/api/data/";

/// The public discovery documents (OAuth and protected-resource metadata).
pub const WELL_KNOWN_PREFIX: &str = "/.well-known/";

/// The OAuth endpoints a browser-based public client calls itself: registration (anonymous),
/// the token exchange (proved by the PKCE verifier or the refresh token, never a cookie) and
/// revocation. The authorization page is a navigation, not a CORS request, and stays closed.
pub const OAUTH_CLIENT_PATHS: [&str; 3] = ["/api/oauth/register", "/api/oauth/token", "/api/oauth/revoke"];
