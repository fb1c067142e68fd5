//! Statuses and kinds as enums (study, session, pipeline, queue): one spelling on the wire,
//! in the database and in code, parsed once where a string comes in.

/// Declares an enum whose variants have one fixed wire/database spelling, with `as_str`,
/// `parse`, `ALL`, `Display` and serde/OpenAPI derives that use the same spelling.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        // Written by hand: the derive does not see `rename` values that arrive through a macro.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire and database spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Parses the wire spelling; `None` for anything else.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// `a, b, c`: the accepted spellings, for error messages.
            pub fn list() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum! {
    /// A study's lifecycle (spec §3): `draft → open → in_progress → completed`, `closed` from
    /// any non-draft state.
    StudyStatus {
        Draft = "draft",
        Open = "open",
        InProgress = "in_progress",
        Completed = "completed",
        Closed = "closed",
    }
}

wire_enum! {
    /// A session's lifecycle (spec §4).
    SessionStatus {
        Active = "active",
        Paused = "paused",
        Completed = "completed",
        Analyzed = "analyzed",
        Confirmed = "confirmed",
        /// Closed by a timeout without ever completing.
        Abandoned = "abandoned",
    }
}

impl SessionStatus {
    /// A session the tester is still in (recording, or paused): what completes, times out or
    /// is abandoned on erasure.
    pub const RUNNING: [SessionStatus; 2] = [SessionStatus::Active, SessionStatus::Paused];
}

wire_enum! {
    /// Where a session is in the agent pipeline (spec §4 `pipelineStatus`).
    PipelineStatus {
        Collecting = "collecting",
        Queued = "queued",
        Analyzing = "analyzing",
        AwaitingConfirmation = "awaiting_confirmation",
        Confirmed = "confirmed",
        Reported = "reported",
        Failed = "failed",
    }
}

wire_enum! {
    /// What a queued piece of background work does; each kind has one handler.
    QueueKind {
        /// Agent 2 on a completed session.
        AnalyzeSession = "analyze_session",
        /// Agent 1: a real-time snapshot of a running session.
        SnapshotSession = "snapshot_session",
        /// Agent 3.
        SessionReport = "session_report",
        /// Agent 4.
        StudyReport = "study_report",
        /// One outbound webhook delivery.
        WebhookDelivery = "webhook_delivery",
        /// Erasure of a person (`DELETE /api/me`).
        Erasure = "erasure",
        /// Offers a launched study to every eligible tester with Telegram (the fan-out).
        OfferBroadcast = "offer_broadcast",
        /// One Telegram offer to one tester.
        TelegramOffer = "telegram_offer",
        /// One other Telegram message (a reply, a notification's copy).
        TelegramMessage = "telegram_message",
        /// One run of a scheduled job (a scheduler tick).
        ScheduledJob = "scheduled_job",
        /// One stored Stripe webhook event to handle (billing).
        StripeEvent = "stripe_event",
        /// A paid study launched on its payment (api.md §11).
        LaunchStudy = "launch_study",
        /// Transfers for a completed study's confirmed sessions (billing).
        StudyPayout = "study_payout",
        /// A new bank payout for a tester whose Stripe payout failed (billing).
        PayoutRetry = "payout_retry",
        /// One outgoing mail (api.md §12): SMTP, or a file in the outbox.
        SendMail = "send_mail",
    }
}

wire_enum! {
    /// A business account's place in its organization (api.md §12).
    OrgRole {
        /// Acts on the studies, and manages members, billing and API tokens.
        Owner = "owner",
        /// Acts on all of the organization's studies.
        Member = "member",
    }
}

wire_enum! {
    /// What a one-time account link is for.
    AccountTokenPurpose {
        VerifyEmail = "verify_email",
        PasswordReset = "password_reset",
        EmailChange = "email_change",
    }
}

wire_enum! {
    /// Where a queued piece of work is (`GET /api/analysis-jobs/:id` `status`).
    QueueStatus {
        Queued = "queued",
        Running = "running",
        Complete = "complete",
        Failed = "failed",
    }
}

wire_enum! {
    /// Which kind of report (Agent 3: one session; Agent 4: a whole study).
    ReportKind {
        Session = "session",
        Study = "study",
    }
}

wire_enum! {
    /// The tester's decision on a finding.
    Decision {
        Confirm = "confirm",
        Reject = "reject",
    }
}

wire_enum! {
    /// Outbound webhook event types a business may subscribe to (spec §7).
    WebhookEvent {
        StudyLaunched = "study.launched",
        SessionCompleted = "session.completed",
        SessionAnalyzed = "session.analyzed",
        SessionConfirmed = "session.confirmed",
        ReportReady = "report.ready",
        StudyReportReady = "study.report_ready",
        /// A study open for 72 h without completing (staff follow up).
        StudyStalled = "study.stalled",
        /// A step of the automatic flow failed after its retries (api.md §11).
        PipelineFailed = "pipeline.failed",
    }
}

wire_enum! {
    /// Where a Telegram offer or message is: waiting in the queue, sent, failed for good, or
    /// skipped (the tester unlinked, or the study stopped taking sessions before it went out).
    TelegramStatus {
        Queued = "queued",
        Sent = "sent",
        Failed = "failed",
        Skipped = "skipped",
    }
}

wire_enum! {
    /// An account's state (`users.status`, and a tester's profile `tester_profiles.status`).
    UserStatus {
        Active = "active",
        Suspended = "suspended",
        /// A tester awaiting approval.
        Pending = "pending",
    }
}

wire_enum! {
    /// Where one outbound webhook delivery is (`webhook_deliveries.status`).
    DeliveryStatus {
        Pending = "pending",
        Delivered = "delivered",
        Failed = "failed",
    }
}

wire_enum! {
    /// A tester's answer to a study (the `study_testers` row).
    SeatStatus {
        Accepted = "accepted",
        Declined = "declined",
    }
}

wire_enum! {
    /// What an in-app notification is about (`GET /api/notifications` `kind`).
    NotificationKind {
        /// A tester accepted a study but has not started it.
        OfferReminder = "offer.reminder",
        /// A session timed out without completing.
        SessionAbandoned = "session.abandoned",
        /// A study open for 72 h without completing.
        StudyStalled = "study.stalled",
        /// A tester's bank payout failed; it is retried.
        PayoutFailed = "payout.failed",
        /// A session's findings await the tester's confirmation.
        FindingsReady = "findings.ready",
        /// A session or study report was written.
        ReportReady = "report.ready",
        /// A step of the automatic flow failed after its retries.
        PipelineFailed = "pipeline.failed",
        /// A study was launched on its payment.
        StudyLaunched = "study.launched",
    }
}

wire_enum! {
    /// The scheduled jobs: each runs from the built-in scheduler and from `POST /api/cron/<name>`.
    CronJob {
        SessionTimeouts = "session-timeouts",
        Reminders = "reminders",
        StudyFollowups = "study-followups",
        Retention = "retention",
        PayoutRetry = "payout-retry",
    }
}

wire_enum! {
    /// What an OAuth access token lets an external client do (spec §9): `read` the workspace's
    /// studies, tests and results; `draft` studies (never launch, pay or recruit).
    OAuthScope {
        Read = "read",
        Draft = "draft",
    }
}

impl OAuthScope {
    /// The OAuth `scope` form: space-separated, in declaration order, without repeats.
    pub fn join(scopes: &[OAuthScope]) -> String {
        Self::ALL.iter().filter(|s| scopes.contains(s)).map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
    }

    /// Parses an OAuth `scope` value; `Err` names the first unknown word.
    pub fn parse_list(s: &str) -> Result<Vec<OAuthScope>, String> {
        let mut out = Vec::new();
        for word in s.split(' ').filter(|w| !w.is_empty()) {
            let scope = Self::parse(word).ok_or_else(|| word.to_owned())?;
            if !out.contains(&scope) {
                out.push(scope);
            }
        }
        out.sort_by_key(|s| Self::ALL.iter().position(|a| a == s));
        Ok(out)
    }
}

wire_enum! {
    /// The two tokens of an OAuth grant.
    OAuthTokenKind {
        Access = "access",
        Refresh = "refresh",
    }
}

wire_enum! {
    /// A study's payment (billing): a Checkout Session opened, then paid.
    PaymentStatus {
        /// A Checkout Session exists; Stripe has not confirmed the payment.
        Pending = "pending",
        /// `checkout.session.completed` (or its async success) confirmed it.
        Paid = "paid",
    }
}

wire_enum! {
    /// One session's line in a study's payout ledger.
    PayoutLineStatus {
        /// Reserved in the ledger; no transfer attempted yet.
        Reserved = "reserved",
        /// A worker holds it and is (or was, if its lease ran out) calling Stripe.
        Transferring = "transferring",
        /// Stripe created the transfer; final.
        Paid = "paid",
        /// The tester has no payout-enabled Stripe account yet; retried when they do.
        Skipped = "skipped",
        /// The last attempt failed; retried with backoff.
        Failed = "failed",
    }
}

wire_enum! {
    /// A study's payout as a whole, from its lines.
    PayoutProgress {
        /// Every line paid.
        Paid = "paid",
        /// Some lines paid.
        Partial = "partial",
        /// No line paid yet.
        Pending = "pending",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for s in SessionStatus::ALL {
            assert_eq!(SessionStatus::parse(s.as_str()), Some(*s));
            assert_eq!(serde_json::to_value(s).ok(), Some(serde_json::Value::from(s.as_str())));
        }
        assert_eq!(StudyStatus::parse("in_progress"), Some(StudyStatus::InProgress));
        assert_eq!(QueueKind::parse("analyze_session"), Some(QueueKind::AnalyzeSession));
        assert_eq!(PipelineStatus::parse("nope"), None);
        assert_eq!(StudyStatus::list(), "draft, open, in_progress, completed, closed");
    }

    #[test]
    fn oauth_scopes_parse_and_join() {
        assert_eq!(OAuthScope::parse_list("draft read draft"), Ok(vec![OAuthScope::Read, OAuthScope::Draft]));
        assert_eq!(OAuthScope::join(&[OAuthScope::Draft, OAuthScope::Read]), "read draft");
        assert_eq!(OAuthScope::parse_list("read write"), Err("write".into()));
        assert_eq!(OAuthScope::parse_list(""), Ok(vec![]));
    }
}

wire_enum! {
    /// Where a report share link is (`GET /api/reports/job/:id/shares`).
    ShareStatus {
        /// Opens the report until it expires.
        Active = "active",
        /// Past its expiry: no longer opens.
        Expired = "expired",
        /// Revoked by the business: no longer opens.
        Revoked = "revoked",
    }
}

wire_enum! {
    /// What a report segment holds (`GET /api/reports/job/:id/segment`).
    SegmentStatus {
        /// A report synthesised from the segment's confirmed sessions.
        Report = "report",
        /// No confirmed session in it.
        Empty = "empty",
        /// An ND category with fewer than 2 testers: nothing is shown, as in the strata.
        Suppressed = "suppressed",
    }
}

wire_enum! {
    /// What a study targets in `study_targets.kind` (the values sit beside it).
    TargetKind {
        /// A country code the tester must live in (required on both sides).
        Country = "country",
        /// An ND category; the study is open to every category when it lists none.
        Nd = "nd",
        /// A language the tester speaks.
        Language = "language",
        /// A device the tester uses.
        Device = "device",
    }
}

wire_enum! {
    /// Why a sign-in (`auth_sessions`) or an OAuth grant was revoked: `revoked_reason`, kept
    /// for the audit trail.
    Revocation {
        /// The user signed out.
        Signout = "signout",
        /// A refresh token was presented twice: the whole family is revoked.
        RefreshTokenReuse = "refresh_token_reuse",
        /// The password was reset through the mailed link.
        PasswordReset = "password_reset",
        /// The password was changed while signed in (every other sign-in ends).
        PasswordChanged = "password_changed",
        /// The person was erased.
        Erasure = "erasure",
        /// The member left (or was removed from) the organization.
        LeftOrganization = "left_organization",
        /// An OAuth authorization code was presented twice.
        CodeReuse = "code_reuse",
        /// The OAuth client revoked its token (RFC 7009).
        RevokedByClient = "revoked_by_client",
        /// The user disconnected the application.
        RevokedByUser = "revoked_by_user",
    }
}

wire_enum! {
    /// A step in a tester's special-category consent history (`tester_consents.action`).
    ConsentAction {
        /// Consent given (to the version named beside it).
        Given = "given",
        /// Consent withdrawn.
        Withdrawn = "withdrawn",
    }
}
