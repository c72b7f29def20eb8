-- Rows that belong to one image: free-form properties, tags, members (sharing) and
-- locations. They go with the image row (ON DELETE CASCADE), which only a purge does.
CREATE TABLE image_properties (
    image_id uuid NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    name     text NOT NULL CONSTRAINT image_properties_name_check
                 CHECK (char_length(name) BETWEEN 1 AND 255),
    value    text NOT NULL,
    PRIMARY KEY (image_id, name)
);
-- Property filters on the image list (?os_distro=ubuntu) look up by name and value.
CREATE INDEX image_properties_name_value_idx ON image_properties (name, value);

CREATE TABLE image_tags (
    image_id uuid NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    tag      text NOT NULL CONSTRAINT image_tags_tag_check
                 CHECK (char_length(tag) BETWEEN 1 AND 255),
    PRIMARY KEY (image_id, tag)
);
CREATE INDEX image_tags_tag_idx ON image_tags (tag);

CREATE TABLE image_members (
    image_id   uuid        NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    member     text        NOT NULL,
    status     text        NOT NULL CONSTRAINT image_members_status_check
                   CHECK (status IN ('pending', 'accepted', 'rejected')),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (image_id, member)
);
-- "Images shared with me" (member_status filter) reads by member, then status.
CREATE INDEX image_members_member_status_idx ON image_members (member, status);

CREATE TABLE image_locations (
    image_id uuid    NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    -- Locations are an ordered list in the API; position keeps that order.
    position integer NOT NULL CONSTRAINT image_locations_position_check CHECK (position >= 0),
    url      text    NOT NULL,
    metadata jsonb   NOT NULL DEFAULT '{}',
    PRIMARY KEY (image_id, position),
    CONSTRAINT image_locations_image_id_url_key UNIQUE (image_id, url)
);
