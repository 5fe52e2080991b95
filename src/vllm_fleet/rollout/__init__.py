"""Changing a serving fleet without downtime: what each host records it runs (state), which
hosts a change restarts and why (changes), draining through the router (drain), and the
host-by-host rollout and rollback (rollout). docs/rolling-changes.md."""
