//! The study definition, the tester profile and a session's consent as typed values: what
//! services validate, the store keeps (as JSON) and returns parsed, and the API shows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};

use super::codes;

/// An array of strings from a closed list (the OpenAPI schema of a `Vec<String>` the services
/// check against that list).
fn names(values: &[&str], description: &str) -> ArrayBuilder {
    ArrayBuilder::new()
        .items(ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values.iter().copied())))
        .description(Some(description))
}

fn device_names() -> ArrayBuilder {
    names(&codes::DEVICES, "`desktop`, `mobile`, `tablet`; empty means any.")
}

fn nd_category_names() -> ArrayBuilder {
    names(&codes::ND_CATEGORIES, "ND categories the study is for; empty or absent: open to every category.")
}

fn variant_label() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["A", "B", "C", "D"]))
}

/// Tasks are written as rows of their own (`StudyWrite`), never inside the definition's JSON,
/// and a study's answer lists them as `TaskOut`: the create body reads them, nothing writes
/// them. (`skip_serializing` would also hide them from the OpenAPI schema.)
fn never<T>(_: &T) -> bool {
    true
}

/// What kind of prototype the study tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PrototypeType {
    Figma,
    Invision,
    Marvel,
    Url,
}

/// A task testers perform.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskIn {
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    #[schema(min_length = 1, max_length = 2000)]
    pub description: String,
    #[schema(min_length = 1, max_length = 1000)]
    pub success_criteria: String,
    /// Position, unique within the study.
    #[schema(minimum = 0, maximum = 1000)]
    pub order: i64,
}

/// Allowed ages (16 ≤ min ≤ max ≤ 120).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct AgeRange {
    #[schema(minimum = 16, maximum = 120)]
    pub min: i64,
    #[schema(minimum = 16, maximum = 120)]
    pub max: i64,
}

/// Who may take the study.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Targeting {
    /// ISO 3166-1 alpha-2 codes; at least one.
    #[schema(min_items = 1)]
    pub countries: Vec<String>,
    #[serde(default)]
    pub age_range: Option<AgeRange>,
    #[serde(default)]
    #[schema(schema_with = device_names)]
    pub devices: Vec<String>,
    /// ISO 639-1 codes; empty means any.
    #[serde(default)]
    pub languages: Vec<String>,
    /// Sessions wanted, 3..100.
    #[schema(minimum = 3, maximum = 100)]
    pub tester_count: i64,
}

/// An A/B variant.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Variant {
    /// `A`..`D`, each at most once.
    #[schema(schema_with = variant_label)]
    pub label: String,
    #[serde(default)]
    pub description: String,
    /// The page this variant tests (http or https; the recorder starts there instead of the
    /// study's `prototypeUrl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A/B test definition.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AbTest {
    pub enabled: bool,
    #[schema(min_items = 2, max_items = 4)]
    pub variants: Vec<Variant>,
    /// Share of sessions per label; sums to 1 (±0.001).
    pub split_ratio: BTreeMap<String, f64>,
}

/// Flat or hourly pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CompensationType {
    Flat,
    Hourly,
}

/// Pay per session.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Compensation {
    /// ISO 4217.
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: String,
    /// > 0, at most 2 decimals (fewer when the currency has fewer, e.g. none for JPY).
    #[schema(exclusive_minimum = 0, exclusive_maximum = 1_000_000_000)]
    pub amount: f64,
    #[serde(rename = "type")]
    pub kind: CompensationType,
}

fn default_max_duration() -> i64 {
    45
}
fn default_reminder() -> i64 {
    24
}

/// Recording and reminder settings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    #[serde(default)]
    pub require_think_aloud: bool,
    #[serde(default)]
    pub record_screen: bool,
    #[serde(default)]
    pub record_facial: bool,
    #[serde(default)]
    pub record_voice: bool,
    /// 5..240 (default 45).
    #[serde(default = "default_max_duration")]
    #[schema(minimum = 5, maximum = 240)]
    pub max_duration_minutes: i64,
    /// 1..168 (default 24).
    #[serde(default = "default_reminder")]
    #[schema(minimum = 1, maximum = 168)]
    pub reminder_after_hours: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            require_think_aloud: false,
            record_screen: false,
            record_facial: false,
            record_voice: false,
            max_duration_minutes: default_max_duration(),
            reminder_after_hours: default_reminder(),
        }
    }
}

/// A study definition: the create body, and what the store keeps and returns (tasks are
/// stored as rows of their own, so they are never serialized here).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StudyDefinition {
    /// 3–100 characters (not counting surrounding spaces).
    #[schema(min_length = 3, max_length = 100)]
    pub title: String,
    /// 1–5,000 characters.
    #[schema(min_length = 1, max_length = 5000)]
    pub description: String,
    /// http or https URL, at most 2,048 characters.
    #[schema(max_length = 2048, pattern = "^https?://[^/?#\\s]+")]
    pub prototype_url: String,
    pub prototype_type: PrototypeType,
    /// 1–50 tasks, `order` unique. Required on create; a study's answer lists them as
    /// `tasks` with their ids.
    #[serde(default, skip_serializing_if = "never")]
    #[schema(required = true, min_items = 1, max_items = 50)]
    pub tasks: Vec<TaskIn>,
    pub targeting: Targeting,
    #[serde(default)]
    #[schema(schema_with = nd_category_names)]
    pub nd_categories: Vec<String>,
    #[serde(default)]
    pub ab_test: Option<AbTest>,
    pub compensation: Compensation,
    #[serde(default)]
    pub settings: Settings,
    /// Threshold overrides of the analysis engine (camelCase names of analysis.md).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub analysis: Option<serde_json::Value>,
}

/// A tester's profile (spec §8).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    #[serde(default)]
    pub nd_categories: Vec<String>,
    #[serde(default)]
    pub assistive_tech: Vec<String>,
    #[serde(default)]
    pub devices: Vec<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// ISO 639-1 codes.
    #[serde(default)]
    pub languages: Vec<String>,
    pub birth_year: Option<i64>,
    /// IANA time zone, e.g. `Europe/London`.
    pub timezone: Option<String>,
    /// At most 1,000 characters.
    pub bio: Option<String>,
    #[serde(default = "yes")]
    pub available: bool,
}

fn yes() -> bool {
    true
}

/// Consent given for a session's streams (a stream left out is not consented).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsentStreams {
    #[serde(default)]
    pub events: bool,
    #[serde(default)]
    pub facial: bool,
    #[serde(default)]
    pub voice: bool,
    #[serde(default)]
    pub screenshots: bool,
}

/// Consent as recorded on a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsentRecord {
    pub version: String,
    pub streams: ConsentStreams,
    pub given_at: String,
}
