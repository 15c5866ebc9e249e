//! Deciding with Gloo's `booleanExpr` instead of "every step allows".
//!
//! Gloo documents the expression (`( basic1 || basic2 || (oidc1 && !oidc2) )`,
//! "evaluated left to right but honors parenthesis and short-circuiting") and
//! that the headers of each successful step are appended; it is silent on the
//! rest, where Gatehouse chose:
//! - a step runs at most once per request, when the evaluation reaches it, and
//!   sees the state left by the steps that allowed before it;
//! - a step that allows counts as true and its effects (headers, state, user)
//!   apply, in evaluation order, even under a `!` — a step that denies counts as
//!   false and has no effects;
//! - a step that fails (error, panic, timeout) cannot be decided: the request is
//!   denied as in a plain chain (or let through by `failureModeAllow`), whatever
//!   the expression — never treated as "false" so `!step` could allow;
//! - when the expression is false, the denial returned is that of the last step
//!   that denied (in `basic || apikey`, apikey's 401 with its headers); with no
//!   denying step (`!internal` when `internal` allowed), a 403;
//! - a step skipped by its `when` takes no part, as Authorino's skipped
//!   evaluators: `a || b` and `a && b` are `b` when `a` is skipped, `!a` is
//!   skipped; an expression left with nothing but skipped steps cannot be
//!   decided and denies (403) — unlike a plain chain, where "every step allows"
//!   holds when all were skipped.

use futures::{future::BoxFuture, FutureExt};

use super::{deny, expr::Expr, Chain, Observer, Ran, Run, StepError};
use crate::model::{Decision, Denied, StepOutcome};

/// What the evaluation has learnt so far.
struct Evaluation<'r, 'o> {
    run: Run<'r>,
    observer: &'o dyn Observer,
    /// Each step's value once it ran (`Some(None)`: skipped).
    values: Vec<Option<Option<bool>>>,
    /// The last step that denied, with its answer.
    last_denial: Option<(usize, StepOutcome)>,
}

impl Chain {
    /// Evaluates `expr` for one run and turns its value into the decision.
    pub(super) async fn run_expr(
        &self,
        expr: &Expr,
        run: Run<'_>,
        observer: &dyn Observer,
    ) -> Decision {
        let mut evaluation = Evaluation {
            run,
            observer,
            values: vec![None; self.steps.len()],
            last_denial: None,
        };
        match self.eval(expr, &mut evaluation).await {
            Ok(Some(true)) => self.allow(evaluation.run.effects),
            Ok(None) => Decision::Deny(Denied {
                status: 403,
                body: String::new(),
                headers: Vec::new(),
                reason: "booleanExpr: every step it names was skipped by its `when`".into(),
            }),
            Ok(Some(false)) => match evaluation.last_denial {
                Some((index, outcome)) => deny(outcome, &self.steps[index].name),
                None => Decision::Deny(Denied {
                    status: 403,
                    body: String::new(),
                    headers: Vec::new(),
                    reason: "booleanExpr is false (a step that allowed is negated)".into(),
                }),
            },
            Err((index, error)) => {
                self.on_failure(&self.steps[index].name, error, evaluation.run.effects)
            }
        }
    }

    /// The expression's value: `None` when only skipped steps took part.
    fn eval<'a>(
        &'a self,
        expr: &'a Expr,
        evaluation: &'a mut Evaluation<'_, '_>,
    ) -> BoxFuture<'a, Result<Option<bool>, (usize, StepError)>> {
        async move {
            Ok(match expr {
                Expr::Step(index) => self.value(*index, evaluation).await?,
                Expr::Not(inner) => self.eval(inner, evaluation).await?.map(|v| !v),
                Expr::And(left, right) => match self.eval(left, evaluation).await? {
                    Some(false) => Some(false),
                    left => self.eval(right, evaluation).await?.or(left),
                },
                Expr::Or(left, right) => match self.eval(left, evaluation).await? {
                    Some(true) => Some(true),
                    left => self.eval(right, evaluation).await?.or(left),
                },
            })
        }
        .boxed()
    }

    /// Step `index`'s value, running it the first time it is asked for.
    async fn value(
        &self,
        index: usize,
        evaluation: &mut Evaluation<'_, '_>,
    ) -> Result<Option<bool>, (usize, StepError)> {
        if let Some(value) = evaluation.values[index] {
            return Ok(value);
        }
        let ran = self
            .step(index, &mut evaluation.run, evaluation.observer)
            .await
            .map_err(|error| (index, error))?;
        let value = match ran {
            Ran::Allowed => Some(true),
            Ran::Skipped => None,
            Ran::Denied(outcome) => {
                evaluation.last_denial = Some((index, outcome));
                Some(false)
            }
        };
        evaluation.values[index] = Some(value);
        Ok(value)
    }
}
