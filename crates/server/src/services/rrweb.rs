//! rrweb recordings, pure (no I/O): the event shapes we accept, the masking of every typed
//! value, a small mirror of the recorded DOM, and the api.md §5 events derived from it the way
//! `/sdk/recorder.js` would have reported them (same selectors, texts, roles, typing bursts,
//! 250 ms scroll pacing, mutations within 1 s after a click, words once a page settled).
//!
//! The state (`Tape`) is carried from one chunk to the next (the store keeps it), so a chunk
//! is derived once, in O(its size), whatever came before it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// rrweb's top-level event types.
pub mod kind {
    pub const FULL_SNAPSHOT: i64 = 2;
    pub const INCREMENTAL: i64 = 3;
    pub const META: i64 = 4;
}

/// rrweb's incremental sources we read.
mod source {
    pub const MUTATION: i64 = 0;
    pub const MOUSE_INTERACTION: i64 = 2;
    pub const SCROLL: i64 = 3;
    pub const VIEWPORT_RESIZE: i64 = 4;
    pub const INPUT: i64 = 5;
    pub const SELECTION: i64 = 14;
}

/// rrweb-snapshot node types.
mod node {
    pub const DOCUMENT: i64 = 0;
    pub const ELEMENT: i64 = 2;
    pub const TEXT: i64 = 3;
}

/// Clicks wait this long for the page's answer (analysis.md §1.2; recorder.js's `hold(1000)`).
const CLICK_WINDOW_MS: i64 = 1000;
/// Keystrokes one way less than this apart are one `input` item (recorder.js's `MERGE`).
const MERGE_MS: i64 = 1000;
/// One scroll item per this many ms plus the last (recorder.js's `SCROLL`).
const SCROLL_MS: i64 = 250;
/// Where a page is read for its words (recorder.js reads after 1 s).
const SETTLE_MS: i64 = 1000;
/// Replay problems kept per recording.
const MAX_GAPS: usize = 20;
/// Text kept per mirrored text node (for `targetText`, ≤ 200 characters).
const TEXT_KEPT: usize = 200;
/// How far up the mirror a text's typed-field ancestor is looked for.
const MAX_DEPTH: usize = 512;

/// Why an rrweb event was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub String);

/// One mirrored DOM node: what selectors, texts, roles and word counts need.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Node {
    #[serde(rename = "k")]
    kind: i64,
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    parent: Option<u32>,
    #[serde(rename = "c", default, skip_serializing_if = "Vec::is_empty")]
    children: Vec<u32>,
    /// Lower-case tag of an element.
    #[serde(rename = "t", default, skip_serializing_if = "String::is_empty")]
    tag: String,
    /// The attributes selectors, texts and roles read.
    #[serde(rename = "a", default, skip_serializing_if = "Vec::is_empty")]
    attrs: Vec<(String, String)>,
    /// A text node's text (the first 200 characters) …
    #[serde(rename = "x", default, skip_serializing_if = "String::is_empty")]
    text: String,
    /// … its length in characters, and its words.
    #[serde(rename = "n", default)]
    chars: u32,
    #[serde(rename = "w", default)]
    words: u32,
}

const KEPT_ATTRS: [&str; 11] = [
    "id",
    "class",
    "name",
    "type",
    "role",
    "aria-label",
    "placeholder",
    "href",
    "target",
    "download",
    "onclick",
];
const KEPT_VALUE_TYPES: [&str; 4] = ["submit", "button", "reset", "image"];

impl Node {
    fn attr(&self, k: &str) -> Option<&str> {
        self.attrs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
    fn is_element(&self) -> bool {
        self.kind == node::ELEMENT
    }
}

/// An event derived from the recording (api.md §5 item fields; the id is given at storage).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Derived {
    pub client_id: String,
    pub event_type: String,
    pub target_selector: String,
    pub ts: i64,
    pub x: Option<f64>,
    pub y: Option<f64>,
    pub scroll_y: Option<f64>,
    pub input_length: Option<i64>,
    pub viewport: Option<(i64, i64)>,
    pub url: Option<String>,
    pub target_text: Option<String>,
    pub deletions: Option<i64>,
    pub selection_length: Option<i64>,
    pub mutations: Option<i64>,
    pub opens_new_context: Option<bool>,
    pub role: Option<String>,
    pub word_count: Option<i64>,
}

/// An item still open to change (a click counting mutations, a typing burst, a page settling,
/// a trailing scroll), with the time after which it is final.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Open {
    item: Derived,
    until: i64,
    /// The input node a burst belongs to, and its direction.
    #[serde(default)]
    field: Option<u32>,
    #[serde(default)]
    dir: i64,
}

/// A place where the recording cannot be replayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gap {
    pub at: i64,
    pub reason: String,
}

/// The derivation state carried across a session's chunks.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Tape {
    nodes: HashMap<u32, Node>,
    root: Option<u32>,
    url: Option<String>,
    viewport: Option<(i64, i64)>,
    /// A page loaded (Meta) and no full snapshot has followed yet.
    awaiting: bool,
    /// The current awaiting period is already reported.
    reported: bool,
    pub full_snapshots: i64,
    pub gaps: Vec<Gap>,
    selection: i64,
    last_input_len: HashMap<u32, i64>,
    last_scroll_at: Option<i64>,
    doc_scrolled: bool,
    open: Vec<Open>,
}

/// What one event did to the derived stream.
#[derive(Debug, Default)]
pub struct Chunk {
    /// Items created or changed by this chunk (the last version of each `clientId`).
    pub derived: Vec<Derived>,
}

fn stars(s: &str) -> String {
    "*".repeat(s.chars().count())
}

fn is_masked_field(tag: &str, input_type: Option<&str>) -> bool {
    match tag {
        "textarea" | "select" => true,
        "input" => !input_type.is_some_and(|t| KEPT_VALUE_TYPES.contains(&t.to_ascii_lowercase().as_str())),
        _ => false,
    }
}

/// Whether an element's `contenteditable` makes its content the tester's typing (any value
/// but `false`: `""`, `true`, `plaintext-only`).
fn is_editable(value: Option<&str>) -> bool {
    value.is_some_and(|v| !v.eq_ignore_ascii_case("false"))
}

/// Masks a serialized node and its subtree in place: `value` of input/textarea/select (the
/// author's labels of submit/button/reset inputs excepted) and the text inside a textarea or
/// a `contenteditable` element (what a tester types there is as private as an input's value).
fn mask_node(v: &mut Value, in_typed_text: bool) {
    let Some(o) = v.as_object_mut() else { return };
    let ty = o.get("type").and_then(Value::as_i64);
    if ty == Some(node::TEXT)
        && in_typed_text
        && let Some(Value::String(t)) = o.get_mut("textContent")
    {
        *t = stars(t);
    }
    let tag = o.get("tagName").and_then(Value::as_str).map(str::to_ascii_lowercase).unwrap_or_default();
    let editable = ty == Some(node::ELEMENT)
        && is_editable(o.get("attributes").and_then(|a| a.get("contenteditable")).and_then(Value::as_str));
    if ty == Some(node::ELEMENT)
        && let Some(Value::Object(attrs)) = o.get_mut("attributes")
    {
        let input_type = attrs.get("type").and_then(Value::as_str).map(str::to_owned);
        if is_masked_field(&tag, input_type.as_deref())
            && let Some(Value::String(val)) = attrs.get_mut("value")
        {
            *val = stars(val);
        }
    }
    if let Some(Value::Array(children)) = o.get_mut("childNodes") {
        let inner = in_typed_text || tag == "textarea" || editable;
        for c in children {
            mask_node(c, inner);
        }
    }
}

fn words(s: &str) -> u32 {
    u32::try_from(s.split_whitespace().count()).unwrap_or(u32::MAX)
}

fn clip(s: &str, max: usize) -> String {
    let collapsed = s.split_whitespace().collect::<Vec<_>>().join(" ");
    collapsed.chars().take(max).collect()
}

/// recorder.js's `pageUrl`: origin + path (+ `#/route`), never the query.
fn page_url(href: &str) -> Option<String> {
    let u = url::Url::parse(href).ok()?;
    let hash = u.fragment().filter(|f| f.starts_with('/') || f.starts_with("!/"));
    let mut out = format!("{}{}", u.origin().ascii_serialization(), u.path());
    if let Some(h) = hash {
        out.push('#');
        out.push_str(h.split('?').next().unwrap_or(""));
    }
    Some(out.chars().take(2048).collect())
}

/// `CSS.escape` for the identifiers selectors carry.
fn css_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        let first = i == 0;
        if c.is_ascii_digit() && (first || (i == 1 && s.starts_with('-'))) {
            out.push_str(&format!("\\3{c} "));
        } else if c.is_ascii_alphanumeric() || c == '-' || c == '_' || !c.is_ascii() {
            out.push(c);
        } else {
            out.push('\\');
            out.push(c);
        }
    }
    out
}

/// recorder.js's state classes, left out of selectors.
fn state_class(c: &str) -> bool {
    let l = c.to_ascii_lowercase();
    const WORDS: [&str; 20] = [
        "active",
        "selected",
        "open",
        "focus",
        "hover",
        "disabled",
        "checked",
        "error",
        "invalid",
        "valid",
        "visited",
        "current",
        "show",
        "hidden",
        "collapsed",
        "expanded",
        "loading",
        "dirty",
        "touched",
        "ng-",
    ];
    l.starts_with("is-") || l.starts_with("has-") || WORDS.iter().any(|w| l.contains(w))
}

fn has_digits(s: &str, n: usize) -> bool {
    let mut run = 0;
    for b in s.bytes() {
        run = if b.is_ascii_digit() { run + 1 } else { 0 };
        if run >= n {
            return true;
        }
    }
    false
}

const ACTIONABLE_TAGS: [&str; 7] = ["a", "button", "input", "select", "textarea", "label", "summary"];
const ACTIONABLE_ROLES: [&str; 5] = ["button", "link", "menuitem", "tab", "checkbox"];

impl Tape {
    /// A recording continues from this state; `None` starts a new one.
    pub fn new() -> Self {
        Self { awaiting: true, ..Self::default() }
    }

    fn element_parent(&self, id: u32) -> Option<u32> {
        let p = self.nodes.get(&id)?.parent?;
        self.nodes.get(&p).filter(|n| n.is_element()).map(|_| p)
    }

    fn step(&self, id: u32, el: &Node) -> String {
        let mut s = el.tag.clone();
        if let Some(name) = el.attr("name")
            && !name.is_empty()
            && ["input", "select", "textarea", "button"].contains(&el.tag.as_str())
            && name.len() < 64
        {
            let clean: String = name.chars().filter(|c| *c != '"' && *c != '\\').collect();
            s.push_str(&format!("[name=\"{clean}\"]"));
        }
        if let Some(class) = el.attr("class") {
            for c in class
                .split_whitespace()
                .filter(|c| c.len() < 32 && !state_class(c) && !has_digits(c, 3))
                .take(2)
            {
                s.push('.');
                s.push_str(&css_escape(c));
            }
        }
        if let Some(parent) = el.parent.and_then(|p| self.nodes.get(&p)) {
            let same: Vec<u32> = parent
                .children
                .iter()
                .copied()
                .filter(|c| self.nodes.get(c).is_some_and(|n| n.is_element() && n.tag == el.tag))
                .collect();
            if same.len() > 1 {
                let at = same.iter().position(|c| *c == id).unwrap_or(0) + 1;
                s.push_str(&format!(":nth-of-type({at})"));
            }
        }
        s
    }

    /// recorder.js's `selectorOf`.
    fn selector_of(&self, id: u32) -> String {
        let mut out: Vec<String> = Vec::new();
        let mut cur = Some(id);
        while let Some(i) = cur {
            let Some(el) = self.nodes.get(&i).filter(|n| n.is_element()) else { break };
            if out.len() >= 8 {
                break;
            }
            if let Some(elid) = el.attr("id") {
                let ok = elid.len() <= 64
                    && elid.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && elid.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                    && !has_digits(elid, 4);
                if ok {
                    out.insert(0, format!("#{}", css_escape(elid)));
                    break;
                }
            }
            if el.tag == "body" || el.tag == "html" {
                out.insert(0, el.tag.clone());
                break;
            }
            out.insert(0, self.step(i, el));
            cur = self.element_parent(i);
        }
        let s = out.join(" > ");
        s.chars().take(1024).collect()
    }

    fn actionable(&self, id: u32) -> Option<u32> {
        let start = match self.nodes.get(&id) {
            Some(n) if n.is_element() => id,
            Some(n) => n.parent.filter(|p| self.nodes.get(p).is_some_and(Node::is_element))?,
            None => return None,
        };
        let mut cur = Some(start);
        while let Some(i) = cur {
            let n = self.nodes.get(&i)?;
            let role = n.attr("role").unwrap_or("");
            if ACTIONABLE_TAGS.contains(&n.tag.as_str())
                || ACTIONABLE_ROLES.contains(&role)
                || n.attr("onclick").is_some()
            {
                return Some(i);
            }
            cur = self.element_parent(i);
        }
        Some(start)
    }

    fn text_content(&self, id: u32, out: &mut String) {
        let Some(n) = self.nodes.get(&id) else { return };
        if n.kind == node::TEXT {
            out.push_str(&n.text);
            out.push(' ');
        }
        for c in &n.children {
            if out.len() > 4 * TEXT_KEPT {
                return;
            }
            self.text_content(*c, out);
        }
    }

    /// recorder.js's `textOf`.
    fn text_of(&self, id: u32) -> Option<String> {
        let el = self.nodes.get(&id)?;
        let label = el.attr("aria-label");
        let editable = el.attr("contenteditable").is_some_and(|v| v != "false");
        let t = if editable || el.tag == "textarea" || el.tag == "select" {
            clip(label.unwrap_or(""), TEXT_KEPT)
        } else if el.tag == "input" {
            let ty = el.attr("type").unwrap_or("text").to_ascii_lowercase();
            if ["submit", "button", "reset"].contains(&ty.as_str()) {
                clip(el.attr("value").unwrap_or(""), TEXT_KEPT)
            } else {
                clip(label.or(el.attr("placeholder")).unwrap_or(""), TEXT_KEPT)
            }
        } else if let Some(l) = label {
            clip(l, TEXT_KEPT)
        } else {
            let mut s = String::new();
            self.text_content(id, &mut s);
            clip(&s, TEXT_KEPT)
        };
        (!t.is_empty()).then_some(t)
    }

    /// recorder.js's `roleOf`.
    fn role_of(&self, id: u32) -> Option<String> {
        let el = self.nodes.get(&id)?;
        let r = match el.attr("role") {
            Some(r) if !r.is_empty() => r.to_owned(),
            _ => match el.tag.as_str() {
                "input" => el.attr("type").unwrap_or("text").to_ascii_lowercase(),
                "a" => "link".into(),
                "button" | "summary" => "button".into(),
                "select" => "combobox".into(),
                "textarea" => "textbox".into(),
                _ => String::new(),
            },
        };
        let r = clip(&r, 64);
        (!r.is_empty()).then_some(r)
    }

    fn opens_new_context(&self, id: u32) -> Option<bool> {
        let mut cur = Some(id);
        while let Some(i) = cur {
            let n = self.nodes.get(&i)?;
            if n.tag == "a" && n.attr("href").is_some() {
                let target = n.attr("target").unwrap_or("");
                let opens = n.attr("download").is_some()
                    || target == "_blank"
                    || (!target.is_empty() && !target.starts_with('_'));
                return opens.then_some(true);
            }
            cur = self.element_parent(i);
        }
        None
    }

    /// Words of the page's visible text (recorder.js: `body.innerText`), scripts and styles out.
    fn word_count(&self) -> Option<i64> {
        let root = self.root?;
        let body = self.find_tag(root, "body")?;
        let mut n = 0u64;
        let mut stack = vec![body];
        while let Some(i) = stack.pop() {
            let Some(node) = self.nodes.get(&i) else { continue };
            if node.is_element()
                && ["script", "style", "noscript", "template", "head"].contains(&node.tag.as_str())
            {
                continue;
            }
            if node.kind == node::TEXT {
                n += u64::from(node.words);
            }
            stack.extend(node.children.iter().copied());
        }
        i64::try_from(n).ok()
    }

    fn find_tag(&self, from: u32, tag: &str) -> Option<u32> {
        let mut stack = vec![from];
        while let Some(i) = stack.pop() {
            let n = self.nodes.get(&i)?;
            if n.tag == tag {
                return Some(i);
            }
            stack.extend(n.children.iter().rev().copied());
        }
        None
    }

    /// Whether text under `parent` is typed text: inside a textarea or a `contenteditable`
    /// element (the parent or any ancestor).
    fn in_typed_text(&self, parent: Option<u32>) -> bool {
        let mut at = parent;
        for _ in 0..MAX_DEPTH {
            let Some(n) = at.and_then(|p| self.nodes.get(&p)) else { return false };
            if n.tag == "textarea" || is_editable(n.attr("contenteditable")) {
                return true;
            }
            at = n.parent;
        }
        false
    }

    /// Adds a serialized node (and its subtree) under `parent`, before `next` when given.
    fn add(&mut self, v: &Value, parent: Option<u32>, next: Option<u32>) {
        let Some(o) = v.as_object() else { return };
        let Some(id) = o.get("id").and_then(Value::as_u64).and_then(|i| u32::try_from(i).ok()) else {
            return;
        };
        let kind = o.get("type").and_then(Value::as_i64).unwrap_or(-1);
        let mut n = Node { kind, parent, ..Node::default() };
        if kind == node::ELEMENT {
            n.tag = o.get("tagName").and_then(Value::as_str).unwrap_or("").to_ascii_lowercase();
            if let Some(Value::Object(attrs)) = o.get("attributes") {
                n.attrs = kept_attrs(attrs, &n.tag);
            }
        } else if kind == node::TEXT {
            let t = o.get("textContent").and_then(Value::as_str).unwrap_or("");
            n.text = t.chars().take(TEXT_KEPT).collect();
            n.chars = u32::try_from(t.chars().count()).unwrap_or(u32::MAX);
            n.words = words(t);
        }
        if let Some(old) = self.nodes.remove(&id) {
            self.detach(id, old.parent);
        }
        if let Some(p) = parent.and_then(|p| self.nodes.get_mut(&p)) {
            match next.and_then(|x| p.children.iter().position(|c| *c == x)) {
                Some(at) => p.children.insert(at, id),
                None => p.children.push(id),
            }
        }
        self.nodes.insert(id, n);
        if let Some(Value::Array(children)) = o.get("childNodes") {
            for c in children {
                self.add(c, Some(id), None);
            }
        }
    }

    fn detach(&mut self, id: u32, parent: Option<u32>) {
        if let Some(p) = parent.and_then(|p| self.nodes.get_mut(&p)) {
            p.children.retain(|c| *c != id);
        }
    }

    fn remove(&mut self, id: u32) {
        let Some(n) = self.nodes.remove(&id) else { return };
        self.detach(id, n.parent);
        let mut stack = n.children;
        while let Some(c) = stack.pop() {
            if let Some(child) = self.nodes.remove(&c) {
                stack.extend(child.children);
            }
        }
    }

    fn gap(&mut self, at: i64, reason: String) {
        if self.gaps.len() < MAX_GAPS {
            self.gaps.push(Gap { at, reason });
        }
    }

    /// Checks, masks (in place) and derives one rrweb event. `index` names it in errors.
    pub fn event(&mut self, ev: &mut Value, index: usize, out: &mut Chunk) -> Result<i64, Malformed> {
        let bad = |what: &str| Malformed(format!("events[{index}]: {what}"));
        let o = ev.as_object_mut().ok_or_else(|| bad("not an object"))?;
        let ty = o.get("type").and_then(Value::as_i64).filter(|t| (0..=7).contains(t));
        let ty = ty.ok_or_else(|| bad("type must be an rrweb event type (0-7)"))?;
        let ts = o
            .get("timestamp")
            .and_then(|t| t.as_i64().or_else(|| t.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)))
            .ok_or_else(|| bad("timestamp must be epoch milliseconds"))?;
        let data = match o.get_mut("data") {
            Some(Value::Object(d)) => Some(d),
            None | Some(Value::Null)
                if !matches!(ty, kind::FULL_SNAPSHOT | kind::INCREMENTAL | kind::META) =>
            {
                None
            }
            _ => return Err(bad("data must be an object")),
        };
        self.close_until(ts, out);
        let Some(data) = data else { return Ok(ts) };
        match ty {
            kind::META => {
                self.awaiting = true;
                self.reported = false;
                self.url = data.get("href").and_then(Value::as_str).and_then(page_url);
                let w = data.get("width").and_then(Value::as_i64).filter(|w| *w > 0);
                let h = data.get("height").and_then(Value::as_i64).filter(|h| *h > 0);
                if let (Some(w), Some(h)) = (w, h) {
                    self.viewport = Some((w.min(100_000), h.min(100_000)));
                }
                self.selection = 0;
                self.doc_scrolled = false;
                let item = Derived {
                    client_id: format!("rr:nav:{ts}"),
                    event_type: "navigation".into(),
                    target_selector: "window".into(),
                    ts,
                    url: self.url.clone(),
                    viewport: self.viewport,
                    ..Derived::default()
                };
                self.open.push(Open { item, until: ts + SETTLE_MS, field: None, dir: 0 });
            }
            kind::FULL_SNAPSHOT => {
                if let Some(n) = data.get_mut("node") {
                    mask_node(n, false);
                }
                self.nodes.clear();
                self.last_input_len.clear();
                self.root = data
                    .get("node")
                    .and_then(|n| n.get("id"))
                    .and_then(Value::as_u64)
                    .and_then(|i| u32::try_from(i).ok());
                if let Some(n) = data.get("node") {
                    self.add(n, None, None);
                }
                self.full_snapshots += 1;
                self.awaiting = false;
                self.reported = false;
            }
            kind::INCREMENTAL => {
                let src =
                    data.get("source").and_then(Value::as_i64).ok_or_else(|| bad("data.source missing"))?;
                if self.awaiting && !self.reported {
                    self.reported = true;
                    let reason = if self.full_snapshots == 0 {
                        "incremental events before any full snapshot: the recording cannot be replayed from its start"
                    } else {
                        "a page loaded without a full snapshot: the recording cannot be replayed from here"
                    };
                    self.gap(ts, reason.into());
                }
                self.incremental(src, data, ts, out);
            }
            _ => {}
        }
        Ok(ts)
    }

    fn node_id(v: Option<&Value>) -> Option<u32> {
        v.and_then(Value::as_u64).and_then(|i| u32::try_from(i).ok())
    }

    fn incremental(&mut self, src: i64, data: &mut Map<String, Value>, ts: i64, out: &mut Chunk) {
        match src {
            source::MUTATION => self.mutation(data, ts, out),
            source::INPUT => {
                let id = Self::node_id(data.get("id"));
                if let Some(Value::String(t)) = data.get_mut("text") {
                    *t = stars(t);
                }
                let len = data.get("text").and_then(Value::as_str).map(|t| t.chars().count() as i64);
                if let Some(id) = id {
                    self.input(id, len, ts, out);
                }
            }
            source::MOUSE_INTERACTION => {
                let Some(id) = Self::node_id(data.get("id")) else { return };
                match data.get("type").and_then(Value::as_i64) {
                    Some(2) => self.click(id, data, ts, out),
                    Some(5) => self.focus(id, "focus", ts, out),
                    Some(6) => self.focus(id, "blur", ts, out),
                    _ => {}
                }
            }
            source::SCROLL => {
                let Some(id) = Self::node_id(data.get("id")) else { return };
                let y = data.get("y").and_then(Value::as_f64).unwrap_or(0.0);
                self.scroll(id, y, ts, out);
            }
            source::VIEWPORT_RESIZE => {
                let w = data.get("width").and_then(Value::as_i64).filter(|w| *w > 0);
                let h = data.get("height").and_then(Value::as_i64).filter(|h| *h > 0);
                if let (Some(w), Some(h)) = (w, h) {
                    self.viewport = Some((w.min(100_000), h.min(100_000)));
                }
            }
            source::SELECTION => {
                let len = match data.get("ranges") {
                    Some(Value::Array(ranges)) => ranges.iter().map(|r| self.range_len(r)).sum(),
                    _ => 0,
                };
                self.selection = len;
                // A selection that lands right after a click (a double or triple click whose
                // selectionchange came late) belongs to it, as recorder.js reads it at the click.
                if len > 0
                    && let Some(o) = self.open.iter_mut().rev().find(|o| {
                        o.item.event_type == "click"
                            && ts - o.item.ts <= 300
                            && o.item.selection_length.is_none()
                    })
                {
                    o.item.selection_length = Some(len);
                    out.derived.push(o.item.clone());
                }
            }
            _ => {}
        }
    }

    fn range_len(&self, r: &Value) -> i64 {
        let start = Self::node_id(r.get("start"));
        let end = Self::node_id(r.get("end"));
        let so = r.get("startOffset").and_then(Value::as_i64).unwrap_or(0);
        let eo = r.get("endOffset").and_then(Value::as_i64).unwrap_or(0);
        let (Some(start), Some(end)) = (start, end) else { return 0 };
        if start == end {
            return match self.nodes.get(&start) {
                Some(n) if n.kind == node::TEXT => (eo - so).abs(),
                Some(n) => {
                    let (a, b) = (so.min(eo).max(0) as usize, so.max(eo).max(0) as usize);
                    n.children.iter().skip(a).take(b - a).map(|c| self.chars_under(*c)).sum()
                }
                None => 0,
            };
        }
        // Across nodes: the text nodes in document order from the start to the end.
        let Some(root) = self.root else { return 0 };
        let mut order = Vec::new();
        let mut stack = vec![root];
        while let Some(i) = stack.pop() {
            let Some(n) = self.nodes.get(&i) else { continue };
            order.push(i);
            stack.extend(n.children.iter().rev().copied());
        }
        let (Some(a), Some(b)) =
            (order.iter().position(|i| *i == start), order.iter().position(|i| *i == end))
        else {
            return 0;
        };
        let (a, b, so, eo) = if a <= b { (a, b, so, eo) } else { (b, a, eo, so) };
        let mut total = 0i64;
        for (k, i) in order[a..=b].iter().enumerate() {
            let Some(n) = self.nodes.get(i) else { continue };
            if n.kind != node::TEXT {
                continue;
            }
            let len = i64::from(n.chars);
            total += if k == 0 && k == b - a {
                (eo - so).abs()
            } else if k == 0 {
                (len - so).max(0)
            } else if k == b - a {
                eo.min(len)
            } else {
                len
            };
        }
        total
    }

    fn chars_under(&self, id: u32) -> i64 {
        let mut total = 0;
        let mut stack = vec![id];
        while let Some(i) = stack.pop() {
            let Some(n) = self.nodes.get(&i) else { continue };
            total += i64::from(n.chars);
            stack.extend(n.children.iter().copied());
        }
        total
    }

    fn mutation(&mut self, data: &mut Map<String, Value>, ts: i64, out: &mut Chunk) {
        let mut count = 0i64;
        // Mask with the mirror as it was before this mutation.
        if let Some(Value::Array(attrs)) = data.get_mut("attributes") {
            for a in attrs.iter_mut() {
                let id = Self::node_id(a.get("id"));
                let known = id.and_then(|i| self.nodes.get(&i));
                let field = known.is_none_or(|n| is_masked_field(&n.tag, n.attr("type")));
                if field
                    && let Some(Value::String(v)) = a.get_mut("attributes").and_then(|m| m.get_mut("value"))
                {
                    *v = stars(v);
                }
            }
        }
        if let Some(Value::Array(texts)) = data.get_mut("texts") {
            for t in texts.iter_mut() {
                let id = Self::node_id(t.get("id"));
                let parent = id.and_then(|i| self.nodes.get(&i)).and_then(|n| n.parent);
                if self.in_typed_text(parent)
                    && let Some(Value::String(v)) = t.get_mut("value")
                {
                    *v = stars(v);
                }
            }
        }
        if let Some(Value::Array(adds)) = data.get_mut("adds") {
            for a in adds.iter_mut() {
                let parent = Self::node_id(a.get("parentId"));
                let inside = self.in_typed_text(parent);
                if let Some(n) = a.get_mut("node") {
                    mask_node(n, inside);
                }
            }
        }
        // Apply to the mirror.
        if let Some(Value::Array(removes)) = data.get("removes") {
            count += removes.len() as i64;
            for r in removes {
                if let Some(id) = Self::node_id(r.get("id")) {
                    self.remove(id);
                }
            }
        }
        let mut unknown_parent = None;
        if let Some(Value::Array(adds)) = data.get("adds") {
            count += adds.len() as i64;
            for a in adds {
                let parent = Self::node_id(a.get("parentId"));
                if parent.is_some_and(|p| !self.nodes.contains_key(&p)) && unknown_parent.is_none() {
                    unknown_parent = parent;
                }
                let next = Self::node_id(a.get("nextId"));
                if let Some(n) = a.get("node") {
                    self.add(n, parent, next);
                }
            }
        }
        if let Some(Value::Array(texts)) = data.get("texts") {
            count += texts.len() as i64;
            for t in texts {
                let Some(n) = Self::node_id(t.get("id")).and_then(|i| self.nodes.get_mut(&i)) else {
                    continue;
                };
                let v = t.get("value").and_then(Value::as_str).unwrap_or("");
                n.text = v.chars().take(TEXT_KEPT).collect();
                n.chars = u32::try_from(v.chars().count()).unwrap_or(u32::MAX);
                n.words = words(v);
            }
        }
        if let Some(Value::Array(attrs)) = data.get("attributes") {
            count += attrs.len() as i64;
            for a in attrs {
                let Some(n) = Self::node_id(a.get("id")).and_then(|i| self.nodes.get_mut(&i)) else {
                    continue;
                };
                let Some(Value::Object(m)) = a.get("attributes") else { continue };
                for (k, v) in m {
                    if !KEPT_ATTRS.contains(&k.as_str()) && k != "value" && k != "contenteditable" {
                        continue;
                    }
                    n.attrs.retain(|(name, _)| name != k);
                    if let Some(s) = v.as_str() {
                        n.attrs.push((k.clone(), s.to_owned()));
                    }
                }
            }
        }
        if let Some(p) = unknown_parent.filter(|_| !self.awaiting && self.full_snapshots > 0) {
            self.gap(
                ts,
                format!("a mutation under node {p}, which the recording never showed (a lost chunk?)"),
            );
        }
        if count > 0 {
            for o in self.open.iter_mut().filter(|o| o.item.event_type == "click" && ts <= o.until) {
                o.item.mutations = Some(o.item.mutations.unwrap_or(0) + count);
                out.derived.push(o.item.clone());
            }
        }
    }

    fn click(&mut self, id: u32, data: &Map<String, Value>, ts: i64, out: &mut Chunk) {
        let Some(el) = self.actionable(id) else { return };
        let item = Derived {
            client_id: format!("rr:click:{ts}:{id}"),
            event_type: "click".into(),
            target_selector: self.selector_of(el),
            ts,
            x: data.get("x").and_then(Value::as_f64).map(f64::round),
            y: data.get("y").and_then(Value::as_f64).map(f64::round),
            viewport: self.viewport,
            url: self.url.clone(),
            target_text: self.text_of(el),
            selection_length: (self.selection > 0).then_some(self.selection),
            mutations: Some(0),
            opens_new_context: self.opens_new_context(el),
            role: self.role_of(el),
            ..Derived::default()
        };
        out.derived.push(item.clone());
        self.open.push(Open { item, until: ts + CLICK_WINDOW_MS, field: None, dir: 0 });
    }

    fn focus(&mut self, id: u32, what: &str, ts: i64, out: &mut Chunk) {
        if !self.nodes.get(&id).is_some_and(Node::is_element) {
            return;
        }
        if what == "blur" {
            // Leaving a field ends its typing burst.
            self.open.retain(|o| o.field != Some(id));
        }
        out.derived.push(Derived {
            client_id: format!("rr:{what}:{ts}:{id}"),
            event_type: what.into(),
            target_selector: self.selector_of(id),
            ts,
            url: self.url.clone(),
            ..Derived::default()
        });
    }

    fn input(&mut self, id: u32, len: Option<i64>, ts: i64, out: &mut Chunk) {
        let Some(el) = self.nodes.get(&id) else { return };
        let ty = el.attr("type").unwrap_or("").to_ascii_lowercase();
        let len =
            if el.tag == "select" || ["checkbox", "radio", "file", "range", "color"].contains(&ty.as_str()) {
                None
            } else {
                len
            };
        let last = self.last_input_len.get(&id).copied();
        let dir = match (len, last) {
            (Some(l), Some(p)) => (l - p).signum(),
            _ => 0,
        };
        if let Some(l) = len {
            self.last_input_len.insert(id, l);
        }
        if let Some(o) = self.open.iter_mut().find(|o| o.field == Some(id)) {
            // The page rewriting the value in the same millisecond is not another keystroke.
            if o.item.ts == ts {
                o.item.input_length = len;
                out.derived.push(o.item.clone());
                return;
            }
            if ts - o.item.ts < MERGE_MS && (dir == 0 || o.dir == 0 || dir == o.dir) {
                o.item.input_length = len;
                o.item.ts = ts;
                o.until = ts + MERGE_MS;
                if o.dir == 0 {
                    o.dir = dir;
                }
                if dir < 0 {
                    o.item.deletions = Some(o.item.deletions.unwrap_or(0) + 1);
                }
                out.derived.push(o.item.clone());
                return;
            }
        }
        self.open.retain(|o| o.field != Some(id));
        let item = Derived {
            client_id: format!("rr:input:{ts}:{id}"),
            event_type: "input".into(),
            target_selector: self.selector_of(id),
            ts,
            input_length: len,
            url: self.url.clone(),
            deletions: Some(i64::from(dir < 0)),
            ..Derived::default()
        };
        out.derived.push(item.clone());
        self.open.push(Open { item, until: ts + MERGE_MS, field: Some(id), dir });
    }

    fn scroll(&mut self, id: u32, y: f64, ts: i64, out: &mut Chunk) {
        let is_doc = self.nodes.get(&id).is_some_and(|n| n.kind == node::DOCUMENT)
            || self.nodes.get(&id).is_some_and(|n| n.tag == "html" || n.tag == "body");
        if !is_doc && self.doc_scrolled {
            return;
        }
        if is_doc {
            self.doc_scrolled = true;
        }
        let item = Derived {
            client_id: format!("rr:scroll:{ts}:{id}"),
            event_type: "scroll".into(),
            target_selector: if is_doc { String::new() } else { self.selector_of(id) },
            ts,
            scroll_y: Some(y.round()),
            viewport: self.viewport,
            url: self.url.clone(),
            ..Derived::default()
        };
        // One item per 250 ms, plus the last of a burst (held until the burst ends).
        self.open.retain(|o| o.item.event_type != "scroll");
        if self.last_scroll_at.is_none_or(|at| ts - at >= SCROLL_MS) {
            self.last_scroll_at = Some(ts);
            out.derived.push(item);
        } else {
            self.open.push(Open { item, until: ts + SCROLL_MS, field: None, dir: 0 });
        }
    }

    /// Finalises the open items whose window ended before `ts`.
    fn close_until(&mut self, ts: i64, out: &mut Chunk) {
        if self.open.iter().all(|o| o.until >= ts) {
            return;
        }
        let (done, open): (Vec<Open>, Vec<Open>) =
            std::mem::take(&mut self.open).into_iter().partition(|o| o.until < ts);
        self.open = open;
        for o in done {
            self.finish(o, out);
        }
    }

    fn finish(&mut self, mut o: Open, out: &mut Chunk) {
        match o.item.event_type.as_str() {
            "navigation" => {
                o.item.word_count = self.word_count();
                out.derived.push(o.item);
            }
            "scroll" => {
                self.last_scroll_at = Some(o.item.ts);
                out.derived.push(o.item);
            }
            _ => {}
        }
    }

    /// The end of a chunk: items still open are stored as they are now (and updated by
    /// the next chunk if it changes them). `last` tells a recording's final chunk.
    pub fn end_chunk(&mut self, out: &mut Chunk) {
        for o in &self.open {
            let mut item = o.item.clone();
            if item.event_type == "navigation" {
                item.word_count = self.word_count();
            }
            out.derived.push(item);
        }
        // The last version of each item only.
        let mut seen = std::collections::HashSet::new();
        let mut kept: Vec<Derived> =
            out.derived.drain(..).rev().filter(|d| seen.insert(d.client_id.clone())).collect();
        kept.reverse();
        out.derived = kept;
    }

    /// Whether the recording can be replayed as it stands.
    pub fn replayable(&self) -> bool {
        self.full_snapshots > 0 && self.gaps.is_empty() && !self.awaiting
    }

    /// The replay problems, including a page still waiting for its full snapshot.
    pub fn problems(&self, last_ts: Option<i64>) -> Vec<Gap> {
        let mut g = self.gaps.clone();
        if self.awaiting && !self.reported {
            let reason = if self.full_snapshots == 0 {
                "no full snapshot received yet: the recording cannot be replayed"
            } else {
                "the last page loaded without a full snapshot"
            };
            g.push(Gap { at: last_ts.unwrap_or(0), reason: reason.into() });
        }
        g
    }
}

/// The kept attributes of an element (values of masked fields already masked).
fn kept_attrs(attrs: &Map<String, Value>, tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, v) in attrs {
        let keep =
            KEPT_ATTRS.contains(&k.as_str()) || k == "contenteditable" || (k == "value" && tag == "input");
        if !keep {
            continue;
        }
        let s = match v {
            Value::String(s) => s.chars().take(256).collect(),
            Value::Bool(true) => String::new(),
            Value::Number(n) => n.to_string(),
            _ => continue,
        };
        out.push((k.clone(), s));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn el(id: i64, tag: &str, attrs: Value, kids: Value) -> Value {
        json!({"type": 2, "id": id, "tagName": tag, "attributes": attrs, "childNodes": kids})
    }

    fn page() -> Value {
        json!({"type": 2, "timestamp": 1000, "data": {"node": {"type": 0, "id": 1, "childNodes": [
            el(2, "html", json!({}), json!([el(3, "body", json!({}), json!([
                el(4, "form", json!({"id": "checkout"}), json!([
                    el(5, "input", json!({"name": "card", "value": "4242"}), json!([])),
                    el(6, "button", json!({"class": "btn is-active btn-pay"}), json!([{"type": 3, "id": 7, "textContent": " Pay  now "}])),
                    el(8, "button", json!({}), json!([{"type": 3, "id": 9, "textContent": "Back"}])),
                ])),
                el(10, "p", json!({}), json!([{"type": 3, "id": 11, "textContent": "one two three"}])),
            ]))]))
        ]}}})
    }

    fn run(tape: &mut Tape, events: Vec<Value>) -> Vec<Derived> {
        let mut out = Chunk::default();
        for (i, mut e) in events.into_iter().enumerate() {
            tape.event(&mut e, i, &mut out).unwrap();
        }
        tape.end_chunk(&mut out);
        out.derived
    }

    #[test]
    fn snapshot_values_are_masked_and_selectors_follow_the_recorder() {
        let mut tape = Tape::new();
        let mut snap = page();
        let mut out = Chunk::default();
        tape.event(&mut snap, 0, &mut out).unwrap();
        assert!(!snap.to_string().contains("4242"));
        assert_eq!(tape.selector_of(6), "#checkout > button.btn.btn-pay:nth-of-type(1)");
        assert_eq!(tape.selector_of(5), "#checkout > input[name=\"card\"]");
        assert_eq!(tape.text_of(6).as_deref(), Some("Pay now"));
        assert_eq!(tape.role_of(6).as_deref(), Some("button"));
        assert_eq!(tape.role_of(5).as_deref(), Some("text"));
        assert_eq!(tape.actionable(7), Some(6));
        assert_eq!(tape.word_count(), Some(6));
    }

    #[test]
    fn clicks_count_mutations_across_chunks_and_typing_merges() {
        let mut tape = Tape::new();
        let click = |ts: i64| json!({"type": 3, "timestamp": ts, "data": {"source": 2, "type": 2, "id": 7, "x": 3.4, "y": 5}});
        let key =
            |ts: i64, t: &str| json!({"type": 3, "timestamp": ts, "data": {"source": 5, "id": 5, "text": t}});
        let d = run(&mut tape, vec![page(), key(1100, "4"), key(1200, "42"), key(1300, "4"), click(1500)]);
        let inputs: Vec<&Derived> = d.iter().filter(|e| e.event_type == "input").collect();
        // one way, then the other: two bursts, as recorder.js makes them
        assert_eq!(inputs.len(), 2, "{d:?}");
        assert_eq!((inputs[0].input_length, inputs[0].deletions), (Some(2), Some(0)));
        assert_eq!((inputs[1].input_length, inputs[1].deletions), (Some(1), Some(1)));
        let c = d.iter().find(|e| e.event_type == "click").unwrap();
        assert_eq!((c.mutations, c.x), (Some(0), Some(3.0)));
        // the page answers 600 ms later, in the next chunk: the same click, updated
        let m = json!({"type": 3, "timestamp": 2100, "data": {"source": 0, "texts": [], "removes": [], "attributes": [{"id": 6, "attributes": {"class": "btn busy"}}], "adds": []}});
        let d2 = run(&mut tape, vec![m]);
        let c2 = d2.iter().find(|e| e.event_type == "click").unwrap();
        assert_eq!((c2.client_id.as_str(), c2.mutations), (c.client_id.as_str(), Some(1)));
        // past its window, a mutation changes nothing
        let late = json!({"type": 3, "timestamp": 2600, "data": {"source": 0, "texts": [], "removes": [], "attributes": [{"id": 6, "attributes": {"class": "x"}}], "adds": []}});
        assert!(run(&mut tape, vec![late]).iter().all(|e| e.event_type != "click"));
    }

    #[test]
    fn malformed_events_name_their_index() {
        let mut tape = Tape::new();
        let mut out = Chunk::default();
        let mut bad = json!({"type": 9, "timestamp": 1});
        assert!(tape.event(&mut bad, 3, &mut out).unwrap_err().0.starts_with("events[3]"));
        let mut bad = json!({"type": 3, "timestamp": 1, "data": 5});
        assert!(tape.event(&mut bad, 0, &mut out).is_err());
    }
}
