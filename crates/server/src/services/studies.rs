//! Studies: the definition and its rules (spec §3), tester profiles and matching, offers.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::principal::Principal;
use crate::domain::Role;
use crate::domain::codes;
use crate::domain::ids::{new_id, prefix};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{MatchProfile, StudyScope, StudyTask, StudyWrite};

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::Unprocessable(msg.into())
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

/// A study definition (create body; also what is stored, tasks apart).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StudyIn {
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
    /// At least one of the 13 categories.
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

/// Changes to a draft; absent fields keep their value, `tasks` replaces the list.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StudyPatch {
    pub title: Option<String>,
    pub description: Option<String>,
    pub prototype_url: Option<String>,
    pub prototype_type: Option<PrototypeType>,
    pub tasks: Option<Vec<TaskIn>>,
    pub targeting: Option<Targeting>,
    pub nd_categories: Option<Vec<String>>,
    pub ab_test: Option<AbTest>,
    pub compensation: Option<Compensation>,
    pub settings: Option<Settings>,
    #[schema(value_type = Option<Object>)]
    pub analysis: Option<serde_json::Value>,
}

impl StudyIn {
    /// Applies a patch.
    pub fn patched(mut self, p: StudyPatch) -> Self {
        macro_rules! take {
            ($($f:ident),*) => {$( if let Some(v) = p.$f { self.$f = v; } )*};
        }
        take!(
            title,
            description,
            prototype_url,
            prototype_type,
            tasks,
            targeting,
            nd_categories,
            compensation,
            settings
        );
        if p.ab_test.is_some() {
            self.ab_test = p.ab_test;
        }
        if p.analysis.is_some() {
            self.analysis = p.analysis;
        }
        self
    }

    /// Every rule of spec §3; the first violation, named by its field.
    pub fn validate(&self) -> ApiResult<()> {
        let chars = |s: &str| s.trim().chars().count();
        if !(3..=100).contains(&chars(&self.title)) {
            return Err(invalid("title: must be 3-100 characters"));
        }
        if !(1..=5000).contains(&chars(&self.description)) {
            return Err(invalid("description: must be 1-5000 characters"));
        }
        validate_http_url(&self.prototype_url).map_err(|m| invalid(format!("prototypeUrl: {m}")))?;
        if self.tasks.is_empty() || self.tasks.len() > 50 {
            return Err(invalid("tasks: must have 1-50 tasks"));
        }
        let mut orders = BTreeSet::new();
        for (i, t) in self.tasks.iter().enumerate() {
            if !(1..=200).contains(&chars(&t.title)) {
                return Err(invalid(format!("tasks[{i}].title: must be 1-200 characters")));
            }
            if !(1..=2000).contains(&chars(&t.description)) {
                return Err(invalid(format!("tasks[{i}].description: must be 1-2000 characters")));
            }
            if !(1..=1000).contains(&chars(&t.success_criteria)) {
                return Err(invalid(format!("tasks[{i}].successCriteria: must be 1-1000 characters")));
            }
            if !(0..=1000).contains(&t.order) {
                return Err(invalid(format!("tasks[{i}].order: must be 0-1000")));
            }
            if !orders.insert(t.order) {
                return Err(invalid(format!("tasks[{i}].order: {} is used twice", t.order)));
            }
        }
        let tg = &self.targeting;
        if tg.countries.is_empty() {
            return Err(invalid("targeting.countries: at least one country is required"));
        }
        if let Some(c) = tg.countries.iter().find(|c| !codes::is_country(c)) {
            return Err(invalid(format!("targeting.countries: {c:?} is not an ISO 3166-1 alpha-2 code")));
        }
        if let Some(r) = tg.age_range
            && !(16 <= r.min && r.min <= r.max && r.max <= 120)
        {
            return Err(invalid("targeting.ageRange: must satisfy 16 <= min <= max <= 120"));
        }
        if let Some(d) = tg.devices.iter().find(|d| !codes::is_device(d)) {
            return Err(invalid(format!("targeting.devices: {d:?} is not one of desktop, mobile, tablet")));
        }
        if let Some(l) = tg.languages.iter().find(|l| !codes::is_language(l)) {
            return Err(invalid(format!("targeting.languages: {l:?} is not an ISO 639-1 code")));
        }
        if !(3..=100).contains(&tg.tester_count) {
            return Err(invalid("targeting.testerCount: must be 3-100"));
        }
        if self.nd_categories.is_empty() {
            return Err(invalid("ndCategories: at least one category is required"));
        }
        if let Some(c) = self.nd_categories.iter().find(|c| !codes::is_nd_category(c)) {
            return Err(invalid(format!("ndCategories: {c:?} is not a known category")));
        }
        if let Some(ab) = &self.ab_test {
            validate_ab(ab)?;
        }
        let comp = &self.compensation;
        if !codes::is_currency(&comp.currency) {
            return Err(invalid(format!(
                "compensation.currency: {:?} is not an ISO 4217 code",
                comp.currency
            )));
        }
        let cents = comp.amount * 100.0;
        if !(comp.amount > 0.0
            && comp.amount.is_finite()
            && (cents - cents.round()).abs() < 1e-6
            && comp.amount < 1e9)
        {
            return Err(invalid("compensation.amount: must be greater than 0 with at most 2 decimals"));
        }
        if !(5..=240).contains(&self.settings.max_duration_minutes) {
            return Err(invalid("settings.maxDurationMinutes: must be 5-240"));
        }
        if !(1..=168).contains(&self.settings.reminder_after_hours) {
            return Err(invalid("settings.reminderAfterHours: must be 1-168"));
        }
        if let Some(a) = &self.analysis {
            if !a.is_object() {
                return Err(invalid("analysis: must be an object of threshold overrides"));
            }
            serde_json::from_value::<openscouter_analysis::Thresholds>(a.clone())
                .map_err(|e| invalid(format!("analysis: {e}")))?;
        }
        Ok(())
    }

    /// The rows the store writes: definition JSON, matching columns, tasks with fresh ids.
    pub fn to_write(&self, now: i64) -> ApiResult<StudyWrite> {
        let definition = serde_json::to_string(self).map_err(ApiError::internal)?;
        let mut targets: Vec<(String, String)> = Vec::new();
        targets.extend(self.targeting.countries.iter().map(|v| ("country".into(), v.clone())));
        targets.extend(self.targeting.languages.iter().map(|v| ("language".into(), v.clone())));
        targets.extend(self.targeting.devices.iter().map(|v| ("device".into(), v.clone())));
        targets.extend(self.nd_categories.iter().map(|v| ("nd".into(), v.clone())));
        let mut tasks: Vec<StudyTask> = self
            .tasks
            .iter()
            .map(|t| StudyTask {
                id: new_id(prefix::TASK, now),
                order: t.order,
                title: t.title.trim().to_owned(),
                description: t.description.clone(),
                success_criteria: t.success_criteria.clone(),
            })
            .collect();
        tasks.sort_by_key(|t| t.order);
        Ok(StudyWrite {
            definition,
            tester_count: self.targeting.tester_count,
            min_age: self.targeting.age_range.map(|r| r.min),
            max_age: self.targeting.age_range.map(|r| r.max),
            targets,
            tasks,
        })
    }
}

fn validate_ab(ab: &AbTest) -> ApiResult<()> {
    if !(2..=4).contains(&ab.variants.len()) {
        return Err(invalid("abTest.variants: must have 2-4 variants"));
    }
    let allowed = ["A", "B", "C", "D"];
    let mut labels = BTreeSet::new();
    for (i, v) in ab.variants.iter().enumerate() {
        if !allowed.contains(&v.label.as_str()) {
            return Err(invalid(format!("abTest.variants[{i}].label: must be A, B, C or D")));
        }
        if !labels.insert(v.label.as_str()) {
            return Err(invalid(format!("abTest.variants[{i}].label: {} is used twice", v.label)));
        }
    }
    let keys: BTreeSet<&str> = ab.split_ratio.keys().map(String::as_str).collect();
    if keys != labels {
        return Err(invalid("abTest.splitRatio: must give a ratio for exactly the variant labels"));
    }
    if ab.split_ratio.values().any(|r| !(r.is_finite() && *r > 0.0)) {
        return Err(invalid("abTest.splitRatio: every ratio must be greater than 0"));
    }
    let sum: f64 = ab.split_ratio.values().sum();
    if (sum - 1.0).abs() > 0.001 {
        return Err(invalid(format!("abTest.splitRatio: ratios must sum to 1 (got {sum})")));
    }
    Ok(())
}

/// `http(s)://host…`, at most 2,048 characters.
pub fn validate_http_url(s: &str) -> Result<(), &'static str> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or("must be an http or https URL")?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || s.len() > 2048 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must be an http or https URL");
    }
    Ok(())
}

/// Picks the next variant: the arm furthest below its share (spec §4: balanced by `splitRatio`);
/// ties go to the first label. `None` when the study has no enabled A/B test.
pub fn choose_variant(ab: Option<&AbTest>, counts: &[(String, i64)]) -> Option<String> {
    let ab = ab.filter(|a| a.enabled)?;
    let n: i64 = counts.iter().map(|(_, c)| c).sum();
    let count = |label: &str| counts.iter().find(|(l, _)| l == label).map_or(0, |(_, c)| *c);
    let mut best: Option<(&str, f64)> = None;
    for (label, ratio) in &ab.split_ratio {
        let deficit = ratio * (n + 1) as f64 - count(label) as f64;
        if best.is_none_or(|(_, d)| deficit > d + 1e-12) {
            best = Some((label.as_str(), deficit));
        }
    }
    best.map(|(l, _)| l.to_owned())
}

// --- tester profiles

/// A tester's profile (spec §8).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProfileIn {
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

impl ProfileIn {
    /// Validates against the current year (testers are at least 16).
    pub fn validate(&self, this_year: i64) -> ApiResult<()> {
        if let Some(c) = self.nd_categories.iter().find(|c| !codes::is_nd_category(c)) {
            return Err(invalid(format!("ndCategories: {c:?} is not a known category")));
        }
        if self.assistive_tech.len() > 20
            || self.assistive_tech.iter().any(|a| a.is_empty() || a.chars().count() > 100)
        {
            return Err(invalid("assistiveTech: at most 20 entries of 1-100 characters"));
        }
        if let Some(d) = self.devices.iter().find(|d| !codes::is_device(d)) {
            return Err(invalid(format!("devices: {d:?} is not one of desktop, mobile, tablet")));
        }
        if let Some(c) = self.country.as_deref().filter(|c| !codes::is_country(c)) {
            return Err(invalid(format!("country: {c:?} is not an ISO 3166-1 alpha-2 code")));
        }
        if let Some(l) = self.languages.iter().find(|l| !codes::is_language(l)) {
            return Err(invalid(format!("languages: {l:?} is not an ISO 639-1 code")));
        }
        if let Some(y) = self.birth_year
            && !(this_year - 120 <= y && y <= this_year - 16)
        {
            return Err(invalid(format!(
                "birthYear: must be between {} and {}",
                this_year - 120,
                this_year - 16
            )));
        }
        if let Some(tz) = &self.timezone {
            let ok = tz.len() <= 64
                && !tz.is_empty()
                && tz.chars().all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c))
                && (tz.contains('/') || tz == "UTC");
            if !ok {
                return Err(invalid("timezone: must be an IANA time zone such as Europe/London"));
            }
        }
        if self.bio.as_deref().is_some_and(|b| b.chars().count() > 1000) {
            return Err(invalid("bio: must be at most 1000 characters"));
        }
        Ok(())
    }

    /// The facts matching uses; an unavailable tester matches no new study.
    pub fn match_profile(&self, this_year: i64) -> MatchProfile {
        if !self.available {
            return MatchProfile::default();
        }
        MatchProfile {
            country: self.country.clone(),
            languages: self.languages.clone(),
            devices: self.devices.clone(),
            nd_categories: self.nd_categories.clone(),
            age: self.birth_year.map(|y| this_year - y),
        }
    }
}

/// The year of `now_ms` (UTC).
pub fn year_of(now_ms: i64) -> i64 {
    use chrono::Datelike;
    chrono::DateTime::from_timestamp_millis(now_ms).map_or(1970, |d| i64::from(d.year()))
}

/// The study scope of a principal (testers: their profile's matches).
pub async fn scope_for(state: &AppState, p: &Principal) -> ApiResult<StudyScope> {
    Ok(match p.role {
        Role::Admin => StudyScope::All,
        Role::Business => StudyScope::Organization(
            p.organization_id.clone().ok_or_else(|| ApiError::Forbidden("No organization".into()))?,
        ),
        Role::Tester => {
            let year = year_of(state.now());
            let profile =
                load_profile(state, &p.user_id).await?.map(|pr| pr.match_profile(year)).unwrap_or_default();
            StudyScope::Tester { tester_id: p.user_id.clone(), profile }
        }
    })
}

/// The stored profile, parsed.
pub async fn load_profile(state: &AppState, user_id: &str) -> ApiResult<Option<ProfileIn>> {
    match state.store.get_profile(user_id).await? {
        Some(row) => Ok(Some(serde_json::from_str(&row.profile).map_err(ApiError::internal)?)),
        None => Ok(None),
    }
}

/// The seam for tester onboarding: a tester needs a profile to take a seat. The capacity
/// quiz (`capacityVerified`) and special-category consent join this check when onboarding lands.
pub async fn onboarding_gate(state: &AppState, tester_id: &str) -> ApiResult<()> {
    match state.store.get_profile(tester_id).await? {
        Some(_) => Ok(()),
        None => Err(invalid("Complete your tester profile before accepting a study")),
    }
}

/// The seam for billing: launching needs a confirmed payment once billing is configured.
/// No billing integration exists yet, so every draft may launch.
pub fn payment_gate(_state: &AppState, _study_id: &str) -> ApiResult<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ab(ratios: &[(&str, f64)]) -> AbTest {
        AbTest {
            enabled: true,
            variants: ratios
                .iter()
                .map(|(l, _)| Variant { label: (*l).into(), description: String::new() })
                .collect(),
            split_ratio: ratios.iter().map(|(l, r)| ((*l).to_owned(), *r)).collect(),
        }
    }

    #[test]
    fn variants_stay_balanced_by_ratio() {
        let a = ab(&[("A", 0.5), ("B", 0.5)]);
        let mut counts: Vec<(String, i64)> = vec![];
        let mut seq = vec![];
        for _ in 0..6 {
            let v = choose_variant(Some(&a), &counts).unwrap_or_default();
            match counts.iter_mut().find(|(l, _)| *l == v) {
                Some(c) => c.1 += 1,
                None => counts.push((v.clone(), 1)),
            }
            seq.push(v);
        }
        assert_eq!(seq, ["A", "B", "A", "B", "A", "B"]);
        let skew = ab(&[("A", 0.75), ("B", 0.25)]);
        let picks: Vec<String> = (0..4)
            .scan(vec![("A".to_owned(), 0i64), ("B".to_owned(), 0)], |c, _| {
                let v = choose_variant(Some(&skew), c).unwrap_or_default();
                if let Some(x) = c.iter_mut().find(|(l, _)| *l == v) {
                    x.1 += 1;
                }
                Some(v)
            })
            .collect();
        assert_eq!(picks.iter().filter(|v| *v == "A").count(), 3);
        assert_eq!(choose_variant(None, &[]), None);
    }

    #[test]
    fn urls() {
        assert!(validate_http_url("https://example.com/app?x=1").is_ok());
        assert!(validate_http_url("ftp://example.com").is_err());
        assert!(validate_http_url("https://").is_err());
        assert!(validate_http_url("https://exa mple.com").is_err());
    }
}
