"""SOP calendar: the schedule language operators type into the SOP tab (pure, no clock)."""
