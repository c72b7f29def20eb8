DELETE FROM tasks WHERE task_type = 'location_import';
ALTER TABLE tasks DROP CONSTRAINT tasks_task_type_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_task_type_check
    CHECK (task_type IN ('import', 'api_image_import'));
