-- `location_import`: the task that reads and hashes the data behind a location added
-- by POST /v2/images/{id}/locations.
ALTER TABLE tasks DROP CONSTRAINT tasks_task_type_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_task_type_check
    CHECK (task_type IN ('import', 'api_image_import', 'location_import'));
