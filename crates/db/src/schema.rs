//! Diesel's view of the tables created by `migrations/`, written by hand because
//! diesel_cli needs libpq. Keep it in step with the SQL: the `it::schema` tests load
//! every column of every table through these definitions and compare them with the
//! database catalogue.

diesel::table! {
    /// One row per image; `version` is the optimistic-locking counter.
    images (id) {
        /// Image id (UUIDv4 as in Glance, or supplied by the client).
        id -> Uuid,
        /// Bumped by one with every accepted command.
        version -> BigInt,
        /// Lifecycle status (`queued` .. `deleted`).
        status -> Text,
        /// Display name, at most 255 characters.
        name -> Nullable<Text>,
        /// `public`, `community`, `shared` or `private`.
        visibility -> Text,
        /// A protected image cannot be deleted.
        protected -> Bool,
        /// Hidden from the default image list.
        os_hidden -> Bool,
        /// Owning project.
        owner -> Text,
        /// MD5 of the data, hex.
        checksum -> Nullable<Text>,
        /// Algorithm of `os_hash_value` (sha512 by default).
        os_hash_algo -> Nullable<Text>,
        /// Secure hash of the data, hex.
        os_hash_value -> Nullable<Text>,
        /// Size of the data in bytes.
        size -> Nullable<BigInt>,
        /// Virtual size of the disk in bytes.
        virtual_size -> Nullable<BigInt>,
        /// Minimum disk in GB.
        min_disk -> Integer,
        /// Minimum RAM in MB.
        min_ram -> Integer,
        /// Disk format (`raw`, `qcow2`, ...).
        disk_format -> Nullable<Text>,
        /// Container format (`bare`, `ovf`, ...).
        container_format -> Nullable<Text>,
        /// Creation time.
        created_at -> Timestamptz,
        /// Last change.
        updated_at -> Timestamptz,
        /// When the image was deleted.
        deleted_at -> Nullable<Timestamptz>,
        /// End of the current upload, stage or import lease.
        lease_expires_at -> Nullable<Timestamptz>,
        /// Ids of the stores holding the data, in order (empty: the default store).
        stores -> Array<Text>,
    }
}

diesel::table! {
    /// Free-form image properties.
    image_properties (image_id, name) {
        /// Owning image.
        image_id -> Uuid,
        /// Property name, 1 to 255 characters.
        name -> Text,
        /// Property value.
        value -> Text,
    }
}

diesel::table! {
    /// Image tags.
    image_tags (image_id, tag) {
        /// Owning image.
        image_id -> Uuid,
        /// Tag, 1 to 255 characters.
        tag -> Text,
    }
}

diesel::table! {
    /// Projects an image is shared with.
    image_members (image_id, member) {
        /// Shared image.
        image_id -> Uuid,
        /// Member project.
        member -> Text,
        /// `pending`, `accepted` or `rejected`.
        status -> Text,
        /// Creation time.
        created_at -> Timestamptz,
        /// Last change.
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    /// Ordered data locations of an image.
    image_locations (image_id, position) {
        /// Owning image.
        image_id -> Uuid,
        /// Place in the image's location list, from 0.
        position -> Integer,
        /// Location URL, unique per image.
        url -> Text,
        /// Store metadata of the location.
        metadata -> Jsonb,
    }
}

diesel::table! {
    /// Tasks (imports); `version` is the optimistic-locking counter.
    tasks (id) {
        /// Task id.
        id -> Uuid,
        /// Bumped by one with every accepted command.
        version -> BigInt,
        /// `import` or `api_image_import`.
        task_type -> Text,
        /// `pending`, `processing`, `success` or `failure`.
        status -> Text,
        /// Task input as submitted.
        input -> Jsonb,
        /// Task result once finished.
        result -> Nullable<Jsonb>,
        /// Failure message; empty until failure.
        message -> Text,
        /// Owning project.
        owner -> Text,
        /// Image the task works on; cleared when the image is purged.
        image_id -> Nullable<Uuid>,
        /// Request id of the creating call.
        request_id -> Nullable<Text>,
        /// User who created the task.
        user_id -> Nullable<Text>,
        /// When the finished task may be purged.
        expires_at -> Nullable<Timestamptz>,
        /// Creation time.
        created_at -> Timestamptz,
        /// Last change.
        updated_at -> Timestamptz,
        /// Soft-deleted by expiry.
        deleted -> Bool,
        /// When it was soft-deleted.
        deleted_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    /// Commands already decided, with their stored answer (idempotency): the result
    /// of an applied one, or the refusal of one the domain refused, that lost every
    /// race, or whose deadline passed.
    processed_commands (command_id) {
        /// Command id.
        command_id -> Uuid,
        /// Image or task the command addressed.
        aggregate_id -> Uuid,
        /// Command type name.
        command_type -> Text,
        /// Result returned to the caller, replayed on redelivery; null for a refusal.
        result -> Nullable<Jsonb>,
        /// When the command was decided (pruned by age by the janitor).
        created_at -> Timestamptz,
        /// The refusal (`{"kind", "message"}`) replayed on redelivery; null when applied.
        rejection -> Nullable<Jsonb>,
    }
}

diesel::table! {
    /// Append-only outbox and transition history; only `published_at` ever changes.
    events (seq) {
        /// Insertion order, generated by the database (never insert it).
        seq -> BigInt,
        /// Event id, for subscribers' duplicate detection.
        event_id -> Uuid,
        /// `image` or `task`.
        aggregate_type -> Text,
        /// Image or task id.
        aggregate_id -> Uuid,
        /// Aggregate version this event produced.
        version -> BigInt,
        /// Event type name.
        event_type -> Text,
        /// Status before; absent for creation.
        from_status -> Nullable<Text>,
        /// Status after.
        to_status -> Text,
        /// Routing key to publish with.
        routing_key -> Text,
        /// Command that caused the event.
        command_id -> Uuid,
        /// Correlation id carried from the request.
        correlation_id -> Nullable<Text>,
        /// Who acted.
        actor -> Jsonb,
        /// The aggregate after the change.
        snapshot -> Jsonb,
        /// When the change happened.
        occurred_at -> Timestamptz,
        /// When the relay got the broker's confirm.
        published_at -> Nullable<Timestamptz>,
        /// W3C `traceparent` of the span that wrote the event, published as a header.
        traceparent -> Nullable<Text>,
        /// Failed publishes of this row (nacks, or a row that does not encode).
        publish_attempts -> Integer,
        /// Why the latest publish failed.
        last_error -> Nullable<Text>,
        /// When the latest publish failed; a row with one holds back its aggregate.
        last_attempt_at -> Nullable<Timestamptz>,
        /// When the relay gave up on the row until an operator releases it.
        quarantined_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(image_properties -> images (image_id));
diesel::joinable!(image_tags -> images (image_id));
diesel::joinable!(image_members -> images (image_id));
diesel::joinable!(image_locations -> images (image_id));
diesel::joinable!(tasks -> images (image_id));

diesel::allow_tables_to_appear_in_same_query!(
    images,
    image_properties,
    image_tags,
    image_members,
    image_locations,
    tasks,
    processed_commands,
    events,
);
