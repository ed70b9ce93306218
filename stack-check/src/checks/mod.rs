//! The checks, grouped by what they compare. Each reads the [`Stack`] and
//! appends to the [`Report`]; none stops the others.

use crate::problem::Report;
use crate::stack::Stack;

mod backends;
mod env;
mod images;
pub(crate) mod pipelines;
mod redis;
mod services;
mod wiring;

/// Runs every check.
pub fn run(stack: &Stack, report: &mut Report) {
    services::check(stack, report);
    wiring::check(stack, report);
    images::check(stack, report);
    backends::check(stack, report);
    redis::check(stack, report);
}
