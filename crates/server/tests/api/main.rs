//! Integration tests: the real router over SQLite and PostgreSQL (one binary, many modules).

mod helpers;

mod accounts;
mod binary;
mod envelope;
mod limits;
mod store_conformance;
mod tokens;
mod web;
