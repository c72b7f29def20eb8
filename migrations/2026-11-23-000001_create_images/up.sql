-- Images: one row per image, never hard-deleted by the API (status 'deleted' keeps
-- the record for history). Statuses and formats are text with CHECK constraints
-- rather than PG enums, so adding a value is a plain constraint swap in a migration.
CREATE TABLE images (
    id               uuid        PRIMARY KEY,
    -- Optimistic-locking counter: every accepted command bumps it by one.
    version          bigint      NOT NULL CONSTRAINT images_version_check CHECK (version >= 1),
    status           text        NOT NULL CONSTRAINT images_status_check CHECK (status IN (
                         'queued', 'saving', 'uploading', 'importing', 'active',
                         'deactivated', 'killed', 'pending_delete', 'deleted')),
    name             text        NULL CONSTRAINT images_name_check CHECK (char_length(name) <= 255),
    visibility       text        NOT NULL CONSTRAINT images_visibility_check CHECK (visibility IN (
                         'public', 'community', 'shared', 'private')),
    protected        boolean     NOT NULL,
    os_hidden        boolean     NOT NULL,
    owner            text        NOT NULL,
    checksum         text        NULL,
    os_hash_algo     text        NULL,
    os_hash_value    text        NULL,
    size             bigint      NULL CONSTRAINT images_size_check CHECK (size >= 0),
    virtual_size     bigint      NULL,
    min_disk         integer     NOT NULL CONSTRAINT images_min_disk_check CHECK (min_disk >= 0),
    min_ram          integer     NOT NULL CONSTRAINT images_min_ram_check CHECK (min_ram >= 0),
    disk_format      text        NULL CONSTRAINT images_disk_format_check CHECK (disk_format IN (
                         'ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi',
                         'iso', 'ploop')),
    container_format text        NULL CONSTRAINT images_container_format_check CHECK (container_format IN (
                         'ami', 'ari', 'aki', 'bare', 'ovf', 'ova', 'docker', 'compressed')),
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    deleted_at       timestamptz NULL,
    -- Set while an upload, stage or import holds the image; the janitor returns images
    -- whose lease has run out (the holder died) to queued.
    lease_expires_at timestamptz NULL
);

-- The default list order of GET /v2/images, with id as the tie-breaker for markers.
CREATE INDEX images_created_at_id_idx ON images (created_at DESC, id DESC);
CREATE INDEX images_owner_idx ON images (owner);
CREATE INDEX images_status_idx ON images (status);
-- Partial: only the few images with a running lease are of interest to the janitor.
CREATE INDEX images_lease_expires_at_idx ON images (lease_expires_at)
    WHERE lease_expires_at IS NOT NULL;
