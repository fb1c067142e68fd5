//! The business's study form (every field of the create body): create a study, edit a draft,
//! add and remove tasks without script ("Add a task" and "Remove" are submit buttons that show
//! the form again with what was typed), then "Pay and launch" (Stripe Checkout when billing
//! is configured, launch otherwise) and close. A refused save shows the form again with the
//! API's message, the navigation and every typed value.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde_json::{Value, json};

use super::layout::{self, Viewer};
use super::web::{Form, Pressed, check_csrf, see_other};
use crate::domain::StudyStatus;
use crate::domain::codes::ND_CATEGORIES;
use crate::domain::ids::StudyId;
use crate::domain::study::StudyDefinition;
use crate::error::{AppError, AppResult};
use crate::http::extract::BusinessOrAdmin;
use crate::http::state::AppState;
use crate::services::studies::{self, StudyPatch};
use crate::store::Study;

const MAX_TASKS: usize = 50;
const LABELS: [&str; 4] = ["A", "B", "C", "D"];
const DEVICES: [&str; 3] = ["desktop", "mobile", "tablet"];

/// The form's values as typed: one value per name, several for checkboxes.
#[derive(Default)]
struct Typed {
    one: HashMap<String, String>,
    many: HashMap<String, Vec<String>>,
    tasks: usize,
}

impl Typed {
    fn from_pairs(pairs: &[(String, String)]) -> Self {
        let mut t = Typed::default();
        for (k, v) in pairs {
            t.many.entry(k.clone()).or_default().push(v.clone());
            t.one.insert(k.clone(), v.clone());
        }
        t.tasks = t.get("tasks").parse::<usize>().unwrap_or(1).clamp(1, MAX_TASKS);
        t
    }

    fn get(&self, k: &str) -> &str {
        self.one.get(k).map_or("", String::as_str)
    }

    fn has(&self, k: &str, v: &str) -> bool {
        self.many.get(k).is_some_and(|vs| vs.iter().any(|x| x == v))
    }

    fn set(&mut self, k: &str, v: impl Into<String>) {
        let v = v.into();
        self.many.insert(k.to_owned(), vec![v.clone()]);
        self.one.insert(k.to_owned(), v);
    }

    fn check(&mut self, k: &str, v: &str) {
        self.many.entry(k.to_owned()).or_default().push(v.to_owned());
    }

    /// A new study's defaults.
    fn blank() -> Self {
        let mut t = Typed { tasks: 1, ..Typed::default() };
        for (k, v) in [
            ("prototype_type", "url"),
            ("tester_count", "5"),
            ("currency", "EUR"),
            ("amount", "30"),
            ("compensation_type", "flat"),
            ("max_duration_minutes", "45"),
            ("reminder_after_hours", "24"),
            ("countries", "GB"),
        ] {
            t.set(k, v);
        }
        t
    }

    /// A saved study's values (editing a draft).
    fn of(study: &Study) -> Self {
        let d = &study.definition;
        let mut t = Typed::default();
        t.set("title", &d.title);
        t.set("description", &d.description);
        t.set("prototype_url", &d.prototype_url);
        t.set(
            "prototype_type",
            serde_json::to_value(d.prototype_type)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        );
        let mut tasks: Vec<_> = study.tasks.iter().collect();
        tasks.sort_by_key(|x| x.order);
        t.tasks = tasks.len().clamp(1, MAX_TASKS);
        for (i, task) in tasks.iter().enumerate() {
            t.set(&format!("task_title_{i}"), &task.title);
            t.set(&format!("task_description_{i}"), &task.description);
            t.set(&format!("task_criteria_{i}"), &task.success_criteria);
        }
        t.set("countries", d.targeting.countries.join(", "));
        t.set("languages", d.targeting.languages.join(", "));
        if let Some(a) = d.targeting.age_range {
            t.set("age_min", a.min.to_string());
            t.set("age_max", a.max.to_string());
        }
        for dev in &d.targeting.devices {
            t.check("device", dev);
        }
        t.set("tester_count", d.targeting.tester_count.to_string());
        for nd in &d.nd_categories {
            t.check("nd", nd);
        }
        t.set("currency", &d.compensation.currency);
        t.set("amount", d.compensation.amount.to_string());
        t.set(
            "compensation_type",
            serde_json::to_value(d.compensation.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        );
        let s = &d.settings;
        for (on, name) in [
            (s.require_think_aloud, "think_aloud"),
            (s.record_screen, "record_screen"),
            (s.record_facial, "record_facial"),
            (s.record_voice, "record_voice"),
        ] {
            if on {
                t.check("setting", name);
            }
        }
        t.set("max_duration_minutes", s.max_duration_minutes.to_string());
        t.set("reminder_after_hours", s.reminder_after_hours.to_string());
        if let Some(ab) = &d.ab_test {
            if ab.enabled {
                t.set("ab_enabled", "on");
            }
            for v in &ab.variants {
                t.set(&format!("variant_description_{}", v.label), &v.description);
                t.set(&format!("variant_url_{}", v.label), v.url.clone().unwrap_or_default());
                if let Some(share) = ab.split_ratio.get(&v.label) {
                    t.set(&format!("variant_share_{}", v.label), format!("{}", (share * 100.0).round()));
                }
            }
        }
        if let Some(a) = &d.analysis {
            t.set("analysis", a.to_string());
        }
        t
    }

    /// Removes task `i`, moving the later ones up.
    fn remove_task(&mut self, i: usize) {
        if self.tasks <= 1 || i >= self.tasks {
            return;
        }
        for j in i..self.tasks - 1 {
            for f in ["task_title", "task_description", "task_criteria"] {
                let next = self.get(&format!("{f}_{}", j + 1)).to_owned();
                self.set(&format!("{f}_{j}"), next);
            }
        }
        self.tasks -= 1;
    }

    /// The create body these values make; the first field that is not even a number is refused
    /// here, everything else by the API's own validation.
    fn definition(&self) -> Result<StudyDefinition, String> {
        let int = |k: &str, label: &str| -> Result<Option<i64>, String> {
            let v = self.get(k).trim();
            if v.is_empty() {
                return Ok(None);
            }
            v.parse::<i64>().map(Some).map_err(|_| format!("{label}: must be a whole number"))
        };
        let list = |k: &str| -> Vec<String> {
            self.get(k).split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
        };
        let tasks: Vec<Value> = (0..self.tasks)
            .map(|i| {
                json!({
                    "title": self.get(&format!("task_title_{i}")).trim(),
                    "description": self.get(&format!("task_description_{i}")).trim(),
                    "successCriteria": self.get(&format!("task_criteria_{i}")).trim(),
                    "order": i,
                })
            })
            .collect();
        let age = match (int("age_min", "Minimum age")?, int("age_max", "Maximum age")?) {
            (Some(min), Some(max)) => json!({"min": min, "max": max}),
            (None, None) => Value::Null,
            _ => return Err("Age range: give both the minimum and the maximum, or neither".into()),
        };
        let amount = self.get("amount").trim().replace(',', ".");
        let amount: f64 =
            amount.parse().map_err(|_| "Amount: must be a number such as 30 or 12.50".to_owned())?;
        let mut variants = Vec::new();
        let mut split = serde_json::Map::new();
        for l in LABELS {
            let description = self.get(&format!("variant_description_{l}")).trim();
            if description.is_empty() {
                continue;
            }
            let url = self.get(&format!("variant_url_{l}")).trim();
            let mut v = json!({"label": l, "description": description});
            if !url.is_empty() {
                v["url"] = json!(url);
            }
            variants.push(v);
            let share = self.get(&format!("variant_share_{l}")).trim();
            let share: f64 =
                share.parse().map_err(|_| format!("Share of variant {l}: must be a percentage"))?;
            split.insert(l.to_owned(), json!(share / 100.0));
        }
        let ab = if self.get("ab_enabled") == "on" || !variants.is_empty() {
            json!({"enabled": self.get("ab_enabled") == "on", "variants": variants, "splitRatio": split})
        } else {
            Value::Null
        };
        let analysis = match self.get("analysis").trim() {
            "" => Value::Null,
            raw => serde_json::from_str::<Value>(raw)
                .map_err(|_| "Analysis thresholds: must be a JSON object".to_owned())?,
        };
        let body = json!({
            "title": self.get("title").trim(),
            "description": self.get("description").trim(),
            "prototypeUrl": self.get("prototype_url").trim(),
            "prototypeType": self.get("prototype_type"),
            "tasks": tasks,
            "targeting": {
                "countries": list("countries").iter().map(|c| c.to_uppercase()).collect::<Vec<_>>(),
                "ageRange": age,
                "devices": DEVICES.iter().filter(|d| self.has("device", d)).collect::<Vec<_>>(),
                "languages": list("languages").iter().map(|c| c.to_lowercase()).collect::<Vec<_>>(),
                "testerCount": int("tester_count", "Testers wanted")?.unwrap_or(0),
            },
            "ndCategories": ND_CATEGORIES.iter().filter(|c| self.has("nd", c)).collect::<Vec<_>>(),
            "abTest": ab,
            "compensation": {
                "currency": self.get("currency").trim().to_uppercase(),
                "amount": amount,
                "type": self.get("compensation_type"),
            },
            "settings": {
                "requireThinkAloud": self.has("setting", "think_aloud"),
                "recordScreen": self.has("setting", "record_screen"),
                "recordFacial": self.has("setting", "record_facial"),
                "recordVoice": self.has("setting", "record_voice"),
                "maxDurationMinutes": int("max_duration_minutes", "Longest session")?.unwrap_or(45),
                "reminderAfterHours": int("reminder_after_hours", "Reminder")?.unwrap_or(24),
            },
            "analysis": analysis,
        });
        serde_json::from_value(body).map_err(|e| format!("The form is incomplete: {e}"))
    }
}

fn text(t: &Typed, name: &str, label: &str, hint: Option<&str>, required: bool) -> Markup {
    let hint_id = format!("{name}-hint");
    html! {
        div {
            label for=(name) { (label) }
            input id=(name) type="text" name=(name) value=(t.get(name)) required[required] aria-describedby=[hint.map(|_| hint_id.as_str())];
            @if let Some(h) = hint { p.muted id=(hint_id) { (h) } }
        }
    }
}

fn area(t: &Typed, name: &str, label: &str, required: bool) -> Markup {
    html! {
        div {
            label for=(name) { (label) }
            textarea id=(name) name=(name) required[required] { (t.get(name)) }
        }
    }
}

fn form(t: &Typed, action: &str, csrf: &str, heading: &str, error: Option<&str>) -> Markup {
    html! {
        h1 { (heading) }
        @if let Some(e) = error { div.error role="alert" #form-error { p { (e) } } }
        form.stack.wide method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="tasks" value=(t.tasks);
            (text(t, "title", "Title", Some("3 to 100 characters."), true))
            (area(t, "description", "What testers should know", true))
            (text(t, "prototype_url", "Address of the product or prototype", Some("An http or https address."), true))
            div {
                label for="prototype_type" { "Kind of prototype" }
                select #prototype_type name="prototype_type" {
                    @for (v, l) in [("url", "A website"), ("figma", "Figma"), ("invision", "InVision"), ("marvel", "Marvel")] {
                        option value=(v) selected[t.get("prototype_type") == v] { (l) }
                    }
                }
            }
            fieldset {
                legend { "Tasks" }
                @for i in 0..t.tasks {
                    fieldset.task {
                        legend { "Task " (i + 1) }
                        (text(t, &format!("task_title_{i}"), "Task title", None, true))
                        (area(t, &format!("task_description_{i}"), "What to do", true))
                        (area(t, &format!("task_criteria_{i}"), "Done when", true))
                        @if t.tasks > 1 {
                            button.secondary type="submit" name="action" value={"remove_task_" (i)} formnovalidate { "Remove task " (i + 1) }
                        }
                    }
                }
                @if t.tasks < MAX_TASKS {
                    button.secondary type="submit" name="action" value="add_task" formnovalidate { "Add a task" }
                }
            }
            fieldset {
                legend { "Who may take part" }
                (text(t, "countries", "Countries", Some("Two-letter codes separated by commas, e.g. GB, IE."), true))
                (text(t, "languages", "Languages (optional)", Some("Two-letter codes separated by commas, e.g. en, fr."), false))
                (text(t, "age_min", "Minimum age (optional)", None, false))
                (text(t, "age_max", "Maximum age (optional)", None, false))
                fieldset {
                    legend { "Devices (none: any)" }
                    @for d in DEVICES {
                        label.choice { input type="checkbox" name="device" value=(d) checked[t.has("device", d)]; (d) }
                    }
                }
                (text(t, "tester_count", "Testers wanted", Some("3 to 100."), true))
                fieldset {
                    legend { "Neurodivergent categories (none: everyone)" }
                    @for c in ND_CATEGORIES {
                        label.choice { input type="checkbox" name="nd" value=(c) checked[t.has("nd", c)]; (c.replace('_', " ")) }
                    }
                }
            }
            fieldset {
                legend { "Pay per session" }
                (text(t, "amount", "Amount", None, true))
                (text(t, "currency", "Currency", Some("Three-letter code, e.g. EUR."), true))
                fieldset {
                    legend { "Paid" }
                    label.choice { input type="radio" name="compensation_type" value="flat" checked[t.get("compensation_type") != "hourly"]; "Per session" }
                    label.choice { input type="radio" name="compensation_type" value="hourly" checked[t.get("compensation_type") == "hourly"]; "Per hour" }
                }
            }
            fieldset {
                legend { "Recording" }
                @for (v, l) in [("think_aloud", "Ask testers to think aloud"), ("record_screen", "Record the screen"), ("record_facial", "Record facial expressions"), ("record_voice", "Record the voice")] {
                    label.choice { input type="checkbox" name="setting" value=(v) checked[t.has("setting", v)]; (l) }
                }
                (text(t, "max_duration_minutes", "Longest session, in minutes", Some("5 to 240."), true))
                (text(t, "reminder_after_hours", "Remind testers after, in hours", Some("1 to 168."), true))
            }
            fieldset {
                legend { "A/B test (optional)" }
                label.choice { input type="checkbox" name="ab_enabled" value="on" checked[t.get("ab_enabled") == "on"]; "Compare variants" }
                @for l in LABELS {
                    fieldset {
                        legend { "Variant " (l) }
                        (text(t, &format!("variant_description_{l}"), "Description", None, false))
                        (text(t, &format!("variant_url_{l}"), "Address (optional)", None, false))
                        (text(t, &format!("variant_share_{l}"), "Share of sessions, in percent", None, false))
                    }
                }
            }
            (area(t, "analysis", "Analysis thresholds (optional, JSON)", false))
            div { button type="submit" name="action" value="save" { "Save the draft" } }
        }
    }
}

fn form_page(
    state: &AppState,
    caller: &BusinessOrAdmin,
    status: StatusCode,
    t: &Typed,
    action: &str,
    heading: &str,
    error: Option<&str>,
) -> Response {
    let viewer = Viewer::new(state, caller);
    let mut res =
        layout::page(heading, &viewer, "/app/studies", form(t, action, &viewer.csrf, heading, error));
    *res.status_mut() = status;
    res
}

/// `GET /app/studies/new`.
pub async fn new_page(State(state): State<AppState>, caller: BusinessOrAdmin) -> Response {
    form_page(&state, &caller, StatusCode::OK, &Typed::blank(), "/app/studies/new", "New study", None)
}

/// What a submit asked for: a task more or fewer (the form again), or saving.
enum Step {
    Again(Typed),
    Save(Typed),
}

fn step(pairs: &[(String, String)]) -> Step {
    let mut t = Typed::from_pairs(pairs);
    let action = t.get("action").to_owned();
    if action == "add_task" {
        t.tasks = (t.tasks + 1).min(MAX_TASKS);
        return Step::Again(t);
    }
    if let Some(i) = action.strip_prefix("remove_task_").and_then(|i| i.parse::<usize>().ok()) {
        t.remove_task(i);
        return Step::Again(t);
    }
    Step::Save(t)
}

/// `POST /app/studies/new`.
pub async fn create(
    State(state): State<AppState>,
    caller: BusinessOrAdmin,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let csrf = pairs.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str()).unwrap_or_default();
    check_csrf(&state, &caller, csrf)?;
    let (action, heading) = ("/app/studies/new", "New study");
    let t = match step(&pairs) {
        Step::Again(t) => return Ok(form_page(&state, &caller, StatusCode::OK, &t, action, heading, None)),
        Step::Save(t) => t,
    };
    let refused = |t: &Typed, m: &str| {
        form_page(&state, &caller, StatusCode::UNPROCESSABLE_ENTITY, t, action, heading, Some(m))
    };
    let definition = match t.definition() {
        Ok(d) => d,
        Err(m) => return Ok(refused(&t, &m)),
    };
    match studies::create(&state, &caller, definition).await {
        Ok(study) => Ok(see_other(&format!("/app/studies/{}", study.id), None)),
        Err(AppError::Unprocessable(m)) => Ok(refused(&t, &m)),
        Err(e) => Err(e),
    }
}

/// `GET /app/studies/{id}/edit` (drafts).
pub async fn edit_page(
    State(state): State<AppState>,
    caller: BusinessOrAdmin,
    Path(id): Path<StudyId>,
) -> AppResult<Response> {
    let study = studies::get_visible(&state, &caller, &id).await?;
    if study.status != StudyStatus::Draft {
        return Err(AppError::Unprocessable("Only a draft can be edited".into()));
    }
    let action = format!("/app/studies/{id}/edit");
    Ok(form_page(
        &state,
        &caller,
        StatusCode::OK,
        &Typed::of(&study),
        &action,
        &format!("Edit “{}”", study.definition.title),
        None,
    ))
}

/// `POST /app/studies/{id}/edit`.
pub async fn edit(
    State(state): State<AppState>,
    caller: BusinessOrAdmin,
    Path(id): Path<StudyId>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    let csrf = pairs.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str()).unwrap_or_default();
    check_csrf(&state, &caller, csrf)?;
    let study = studies::get_visible(&state, &caller, &id).await?;
    let action = format!("/app/studies/{id}/edit");
    let heading = format!("Edit “{}”", study.definition.title);
    let t = match step(&pairs) {
        Step::Again(t) => return Ok(form_page(&state, &caller, StatusCode::OK, &t, &action, &heading, None)),
        Step::Save(t) => t,
    };
    let refused = |t: &Typed, m: &str| {
        form_page(&state, &caller, StatusCode::UNPROCESSABLE_ENTITY, t, &action, &heading, Some(m))
    };
    let d = match t.definition() {
        Ok(d) => d,
        Err(m) => return Ok(refused(&t, &m)),
    };
    let patch = StudyPatch {
        title: Some(d.title),
        description: Some(d.description),
        prototype_url: Some(d.prototype_url),
        prototype_type: Some(d.prototype_type),
        tasks: Some(d.tasks),
        targeting: Some(d.targeting),
        nd_categories: Some(d.nd_categories),
        ab_test: d.ab_test,
        compensation: Some(d.compensation),
        settings: Some(d.settings),
        analysis: d.analysis,
    };
    match studies::patch(&state, &caller, &id, patch).await {
        Ok(_) => Ok(see_other(&format!("/app/studies/{id}"), None)),
        Err(AppError::Unprocessable(m)) => Ok(refused(&t, &m)),
        Err(e) => Err(e),
    }
}

/// `POST /app/studies/{id}/launch`: "Pay and launch". With billing configured, a Stripe
/// Checkout is opened (the page links to it: the CSP lets forms post only here) and the study
/// launches when Stripe confirms the payment; without billing it launches at once.
pub async fn launch(
    State(state): State<AppState>,
    Path(id): Path<StudyId>,
    Pressed(caller): Pressed<BusinessOrAdmin>,
) -> AppResult<Response> {
    if state.billing.is_none() {
        studies::launch(&state, &caller, &id).await?;
        return Ok(see_other(&format!("/app/studies/{id}"), None));
    }
    let back = format!("{}/app/studies/{id}", crate::services::mail::base_url(&state));
    let payment =
        crate::services::billing::checkout(&state, &caller, &id, Some(&back), Some(&back), true).await?;
    let Some(url) = payment.checkout_url else {
        return Ok(see_other(&format!("/app/studies/{id}"), None));
    };
    let viewer = Viewer::new(&state, &caller);
    Ok(layout::page(
        "Pay and launch",
        &viewer,
        "/app/studies",
        html! {
            h1 { "Pay and launch" }
            p { "The study launches as soon as the payment is confirmed." }
            p { a.button href=(url) rel="noreferrer" { "Continue to the secure payment page" } }
            p { a href={"/app/studies/" (id)} { "Back to the study" } }
        },
    ))
}

/// `POST /app/studies/{id}/close`.
pub async fn close(
    State(state): State<AppState>,
    Path(id): Path<StudyId>,
    Pressed(caller): Pressed<BusinessOrAdmin>,
) -> AppResult<Response> {
    studies::close(&state, &caller, &id).await?;
    Ok(see_other(&format!("/app/studies/{id}"), None))
}

/// The study page's actions (edit, pay and launch, close), by status.
pub fn actions(study: &Study, csrf: &str, billing: bool) -> Markup {
    html! {
        div.actions {
            @if study.status == StudyStatus::Draft {
                a.button.secondary href={"/app/studies/" (study.id) "/edit"} { "Edit the draft" }
                form method="post" action={"/app/studies/" (study.id) "/launch"} {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { (if billing { "Pay and launch" } else { "Launch" }) }
                }
            }
            @if matches!(study.status, StudyStatus::Open | StudyStatus::InProgress | StudyStatus::Completed) {
                form method="post" action={"/app/studies/" (study.id) "/close"} {
                    input type="hidden" name="csrf" value=(csrf);
                    button.secondary type="submit" { "Close the study" }
                }
            }
        }
    }
}
