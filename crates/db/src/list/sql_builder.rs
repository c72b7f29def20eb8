//! [`SqlBuilder`]: SQL text and its typed bind values, collected together so a list query
//! with a varying number of filters still binds every user value and interpolates none.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, BigInt, Bool, Text, Timestamptz, Uuid as SqlUuid};
use std::fmt::Write as _;
use uuid::Uuid;

/// A value bound to a placeholder of a [`SqlBuilder`] query.
#[derive(Debug, Clone, PartialEq)]
pub enum BindValue {
    /// `text`.
    Text(String),
    /// `uuid`.
    Uuid(Uuid),
    /// `uuid[]`.
    UuidArray(Vec<Uuid>),
    /// `bigint`.
    BigInt(i64),
    /// `boolean`.
    Bool(bool),
    /// `timestamptz`.
    Time(DateTime<Utc>),
}

/// SQL text under construction and the values of its `$n` placeholders, in order.
#[derive(Debug, Default)]
pub struct SqlBuilder {
    /// The statement so far.
    pub text: String,
    /// The bind values; `$n` is `binds[n - 1]`.
    pub binds: Vec<BindValue>,
}

impl SqlBuilder {
    /// Appends trusted SQL (constants and allow-listed names only, never user input).
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.text.push_str(sql);
        self
    }

    /// Registers a value and returns its placeholder, to be pushed where it is used
    /// (possibly several times).
    pub fn bind(&mut self, value: BindValue) -> String {
        self.binds.push(value);
        format!("${}", self.binds.len())
    }

    /// Registers a value and appends its placeholder.
    pub fn push_bind(&mut self, value: BindValue) -> &mut Self {
        let placeholder = self.bind(value);
        let _ = write!(self.text, "{placeholder}");
        self
    }

    /// The diesel query, every value bound in placeholder order.
    pub fn into_query(self) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
        let mut query = diesel::sql_query(self.text).into_boxed::<Pg>();
        for value in self.binds {
            query = match value {
                BindValue::Text(v) => query.bind::<Text, _>(v),
                BindValue::Uuid(v) => query.bind::<SqlUuid, _>(v),
                BindValue::UuidArray(v) => query.bind::<Array<SqlUuid>, _>(v),
                BindValue::BigInt(v) => query.bind::<BigInt, _>(v),
                BindValue::Bool(v) => query.bind::<Bool, _>(v),
                BindValue::Time(v) => query.bind::<Timestamptz, _>(v),
            };
        }
        query
    }
}
