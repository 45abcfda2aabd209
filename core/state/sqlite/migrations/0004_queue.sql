-- The merge queue: gates judge trees, and a patch lands only on a tree its gates passed on.

-- tree_sha: the git tree the gate judged (the attempt's copy, or a combination of the
-- integration head and the patches queued ahead); scope: "attempt" (the attempt's own copy),
-- "combination" (re-gated in the merge queue) or "land" (`uet land`'s merge result).
ALTER TABLE gate_results ADD COLUMN tree_sha TEXT;
ALTER TABLE gate_results ADD COLUMN scope TEXT;
CREATE INDEX gate_results_by_tree ON gate_results (tree_sha) WHERE tree_sha IS NOT NULL;
