//! The domain's tests: the transition tables of SPEC 2 and 3 written out by hand and
//! checked against `decide` (`table`, `tasks`), the policy matrix of SPEC 7 (`policy`),
//! JSON-patch rules of SPEC 6 (`patch`), and property tests over random command
//! histories (`properties`, with its generators in `strategies`). `fixtures` builds
//! images, tasks, actors and contexts for all of them.

mod fixtures;
mod patch;
mod policy;
mod properties;
mod strategies;
mod table;
mod tasks;
