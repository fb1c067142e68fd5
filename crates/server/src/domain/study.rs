//! The study definition, the tester profile and a session's consent as typed values: what
//! services validate, the store keeps (as JSON) and returns parsed, and the API shows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
    pub title: String,
    pub description: String,
    pub success_criteria: String,
    /// Position, unique within the study.
    pub order: i64,
}

/// Allowed ages (16 ≤ min ≤ max ≤ 120).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub struct AgeRange {
    pub min: i64,
    pub max: i64,
}

/// Who may take the study.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Targeting {
    /// ISO 3166-1 alpha-2 codes; at least one.
    pub countries: Vec<String>,
    pub age_range: Option<AgeRange>,
    /// `desktop`, `mobile`, `tablet`; empty means any.
    #[serde(default)]
    pub devices: Vec<String>,
    /// ISO 639-1 codes; empty means any.
    #[serde(default)]
    pub languages: Vec<String>,
    /// Sessions wanted, 3..100.
    pub tester_count: i64,
}

/// An A/B variant.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Variant {
    /// `A`..`D`.
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
    pub currency: String,
    /// > 0, at most 2 decimals.
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
    pub max_duration_minutes: i64,
    /// 1..168 (default 24).
    #[serde(default = "default_reminder")]
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
    /// 3–100 characters.
    pub title: String,
    pub description: String,
    /// http or https URL.
    pub prototype_url: String,
    pub prototype_type: PrototypeType,
    /// 1–50 tasks, `order` unique.
    #[serde(default, skip_serializing)]
    pub tasks: Vec<TaskIn>,
    pub targeting: Targeting,
    /// ND categories the study is for; empty or absent: open to every category.
    #[serde(default)]
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
