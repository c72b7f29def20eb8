//! `list_images` against a real Postgres: the visibility matrix of SPEC 7, every filter,
//! both sort syntaxes, keyset pagination through ties and NULLs, and the 400s.

mod filters;
mod paging;
mod seed;
mod visibility;
