//! Glance v2 behaviour and the domain's rules through the gateway: requests go through
//! the gateway's router (`TestApp`) to a worker on the real RabbitMQ and Postgres, and
//! the tests check the answers Glance clients expect (statuses, documents, errors,
//! identity and policy) and what the request changed.

pub(crate) mod api_identity;
pub(crate) mod api_images;
mod api_locations;
pub(crate) mod api_sharing;
mod api_tasks_info;
mod glance_parity;
mod hostile_http;
mod image_data;
mod import_stores;
mod openapi;
mod s3;
mod stores;
mod tenant_matrix;
mod tracing;
