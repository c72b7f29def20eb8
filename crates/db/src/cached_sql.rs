//! Hand-written SQL that Postgres prepares once per connection. diesel's `sql_query`
//! marks every statement unsafe to cache, so each command's statements were parsed and
//! planned again on every execution: a profile of creates showed Postgres spending most
//! of its time per command in its parser and planner, not in the work. [`CachedSql`]
//! carries the same text and typed binds, and lets diesel's per-connection statement
//! cache keep the prepared statement (keyed by the text and the bind types).
//!
//! Placeholders are written `$1`, `$2`, ... as in plain SQL; each occurrence becomes
//! a bind of the value bound in that position (a placeholder used twice sends its value
//! twice, which Postgres does not mind).

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::{Error, QueryResult};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use std::marker::PhantomData;

/// SQL text with the values of its placeholders, safe to prepare once and reuse.
#[derive(Debug, Clone)]
#[must_use = "a statement runs only when loaded or executed"]
pub struct CachedSql<B> {
    sql: String,
    binds: B,
}

/// Starts a statement from its text; bind each `$n` in order with [`CachedSql::bind`].
pub fn cached_sql(sql: impl Into<String>) -> CachedSql<()> {
    CachedSql {
        sql: sql.into(),
        binds: (),
    }
}

impl<B: Binds> CachedSql<B> {
    /// Binds the value of the next placeholder (`$1` first) as SQL type `ST`.
    pub fn bind<ST, V>(self, value: V) -> CachedSql<(B, Bound<ST, V>)> {
        CachedSql {
            sql: self.sql,
            binds: (
                self.binds,
                Bound {
                    value,
                    sql_type: PhantomData,
                },
            ),
        }
    }
}

/// One bound value and its SQL type.
#[derive(Debug, Clone)]
pub struct Bound<ST, V> {
    value: V,
    sql_type: PhantomData<ST>,
}

/// The values bound so far, as a list built by [`CachedSql::bind`].
pub trait Binds {
    /// How many values are bound.
    const LEN: usize;
    /// Pushes the value of placeholder `$index + 1` as a bind parameter.
    fn push<'b>(&'b self, index: usize, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()>;
}

impl Binds for () {
    const LEN: usize = 0;

    fn push<'b>(&'b self, index: usize, _out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        Err(Error::QueryBuilderError(
            format!("placeholder ${} has no bound value", index + 1).into(),
        ))
    }
}

impl<B, ST, V> Binds for (B, Bound<ST, V>)
where
    B: Binds,
    Pg: HasSqlType<ST>,
    V: ToSql<ST, Pg>,
{
    const LEN: usize = B::LEN + 1;

    fn push<'b>(&'b self, index: usize, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        if index == B::LEN {
            out.push_bind_param::<ST, V>(&self.1.value)
        } else {
            self.0.push(index, out)
        }
    }
}

impl<B: Binds> QueryFragment<Pg> for CachedSql<B> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let mut rest = self.sql.as_str();
        while let Some(dollar) = rest.find('$') {
            let digits = rest[dollar + 1..]
                .find(|c: char| !c.is_ascii_digit())
                .map_or(rest.len() - dollar - 1, |end| end);
            if digits == 0 {
                // A `$` that is not a placeholder stays text.
                out.push_sql(&rest[..=dollar]);
                rest = &rest[dollar + 1..];
                continue;
            }
            out.push_sql(&rest[..dollar]);
            let number: usize = rest[dollar + 1..dollar + 1 + digits]
                .parse()
                .map_err(|_| Error::QueryBuilderError("a placeholder out of range".into()))?;
            if number == 0 || number > B::LEN {
                return Err(Error::QueryBuilderError(
                    format!("placeholder ${number} has no bound value").into(),
                ));
            }
            self.binds.push(number - 1, &mut out)?;
            rest = &rest[dollar + 1 + digits..];
        }
        out.push_sql(rest);
        Ok(())
    }
}

impl<B> QueryId for CachedSql<B> {
    // No static id: the statement cache keys these by their SQL text and bind types.
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<B> Query for CachedSql<B> {
    type SqlType = Untyped;
}
