//! `/api/quiz`: the capacity quiz as testers take it (no answers, shuffled per request).

use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::admin::{QuizOut, quiz_out};
use crate::error::AppResult;
use crate::http::envelope::{Envelope, ok};
use crate::http::extract::{ApiJson, UserJwt};
use crate::http::state::AppState;
use crate::services::governance::{self, AttemptIn};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_quiz)).routes(routes!(attempt))
}

/// The active quiz: questions and options in a fresh random order, no correct answers
/// (`correctOptionId` is empty).
#[utoipa::path(get, path = "/api/quiz", tag = "testers", security(("jwt" = [])),
    responses((status = 200, body = Envelope<QuizOut>)))]
async fn get_quiz(State(state): State<AppState>, caller: UserJwt) -> AppResult<Envelope<QuizOut>> {
    Ok(ok(quiz_out(governance::tester_quiz(&state, &caller).await?)))
}

/// An attempt's outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptOut {
    /// Percent of the points.
    pub score: i64,
    pub passed: bool,
}

/// Answer the quiz (`{quizId, answers: {questionId: optionId}}`); a pass makes the tester
/// capacity-verified. At most 3 attempts in 24 hours (429 after that).
#[utoipa::path(post, path = "/api/quiz/attempts", tag = "testers", security(("jwt" = [])), request_body = AttemptIn,
    responses((status = 200, body = Envelope<AttemptOut>)))]
async fn attempt(
    State(state): State<AppState>,
    caller: UserJwt,
    ApiJson(b): ApiJson<AttemptIn>,
) -> AppResult<Envelope<AttemptOut>> {
    let a = governance::attempt(&state, &caller, b).await?;
    Ok(ok(AttemptOut { score: a.score, passed: a.passed }))
}
