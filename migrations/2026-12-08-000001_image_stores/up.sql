-- The stores holding an image's data, in order (multi-store mode). Empty means the
-- default store: images written before stores had names keep working unchanged.
ALTER TABLE images ADD COLUMN stores text[] NOT NULL DEFAULT '{}';
