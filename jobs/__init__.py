"""What runs when: one module per job, and the schedule shared by the daemon and cron."""
