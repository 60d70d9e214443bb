"""Built-in trackers: lifecycle-hook plugins that record runs."""
